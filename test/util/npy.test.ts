import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { encodeNpy, parseNpy } from '../../src/util/npy.js';

/** A .npy v1 with the header text given as is. */
function npy(header: string, data = new Uint8Array(0), major = 1): Uint8Array {
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = major;
  head.writeUInt16LE(header.length, 8);
  return Buffer.concat([head, Buffer.from(header, 'latin1'), data]);
}

const bad = (bytes: Uint8Array) => {
  try {
    parseNpy(bytes, 'x.npy');
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    return (e as Error).message;
  }
  throw new Error('accepted');
};

describe('parseNpy checks every header field (issue #20 item 6)', () => {
  it('refuses bad versions, a header longer than the file, bad shapes and sizes that overflow', () => {
    expect(bad(npy("{'descr': '|u1', 'shape': (1,), }", new Uint8Array(1), 9))).toMatch(
      /version 9 not supported/,
    );
    const cut = npy("{'descr': '|u1', 'shape': (1,), }").subarray(0, 20);
    expect(bad(cut)).toMatch(/truncated \.npy header/);
    for (const shape of ['-1, 32, 32, 3', '1.5, 2', 'a, 2', '1e3,'])
      expect(bad(npy(`{'descr': '|u1', 'fortran_order': False, 'shape': (${shape}), }`))).toMatch(
        /malformed shape/,
      );
    expect(
      bad(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (999999999999999, 999999999999999), }")),
    ).toMatch(/truncated: shape/);
    expect(bad(npy("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", new Uint8Array(4)))).toMatch(
      /dtype >f4 not supported/,
    );
  });

  it('copies float32 data that starts at an offset that is not a multiple of 4', () => {
    const values = new Float32Array([1.5, -2, 3.25]);
    const header = `${"{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }".padEnd(57, ' ')}\n`;
    const a = parseNpy(npy(header, new Uint8Array(values.buffer)), 'x.npy');
    expect(Array.from(a.data)).toEqual([1.5, -2, 3.25]);
    // Aligned data inside a larger buffer (Node's pool) is still read right.
    const pooled = Buffer.concat([Buffer.alloc(3), encodeNpy(values, [3])]).subarray(3);
    expect(Array.from(parseNpy(pooled).data)).toEqual([1.5, -2, 3.25]);
  });
});
