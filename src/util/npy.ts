import { readFileSync, writeFileSync } from 'node:fs';
import { InputError } from '../errors.js';

/** A NumPy array read from `.npy`: little-endian float32, uint8 or int32 only (what vitstream uses). */
export interface NpyArray {
  dtype: 'float32' | 'uint8' | 'int32';
  shape: number[];
  data: Float32Array | Uint8Array | Int32Array;
}

const DTYPES = { '<f4': 'float32', '|u1': 'uint8', '<i4': 'int32' } as const;

/** Parses `.npy` bytes; `source` names the input in errors. Data views the given buffer when aligned. */
export function parseNpy(buf: Uint8Array, source = 'npy'): NpyArray {
  const magic = '\x93NUMPY';
  if (buf.length < 10 || String.fromCharCode(...buf.subarray(0, 6)) !== magic)
    throw new InputError(`${source}: not a .npy file (bad magic)`, { input: source });
  const major = buf[6];
  const headerLen =
    major === 1 ? buf[8] | (buf[9] << 8) : new DataView(buf.buffer, buf.byteOffset + 8, 4).getUint32(0, true);
  const start = major === 1 ? 10 : 12;
  const header = new TextDecoder().decode(buf.subarray(start, start + headerLen));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*True/.test(header);
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || shapeText === undefined)
    throw new InputError(`${source}: malformed .npy header`, { input: source });
  if (fortran) throw new InputError(`${source}: Fortran-ordered arrays are not supported`, { input: source });
  const dtype = DTYPES[descr as keyof typeof DTYPES];
  if (!dtype)
    throw new InputError(`${source}: dtype ${descr} not supported (float32, uint8 or int32 expected)`, {
      input: source,
    });
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const off = start + headerLen;
  const bytesPer = dtype === 'uint8' ? 1 : 4;
  if (buf.length - off < count * bytesPer)
    throw new InputError(
      `${source}: truncated: shape [${shape}] needs ${count * bytesPer} bytes, found ${buf.length - off}`,
      { input: source },
    );
  const abs = buf.byteOffset + off;
  const bytes = abs % bytesPer === 0 ? buf : buf.slice();
  const base = bytes === buf ? abs : off;
  const data =
    dtype === 'float32'
      ? new Float32Array(bytes.buffer, base, count)
      : dtype === 'int32'
        ? new Int32Array(bytes.buffer, base, count)
        : new Uint8Array(bytes.buffer, base, count);
  return { dtype, shape, data };
}

export function readNpy(file: string): NpyArray {
  let buf: Buffer;
  try {
    buf = readFileSync(file);
  } catch (e) {
    throw new InputError(`${file}: cannot read (${(e as Error).message})`, { input: file, cause: e });
  }
  return parseNpy(buf, file);
}

export function encodeNpy(data: Float32Array | Uint8Array | Int32Array, shape: number[]): Buffer {
  const descr = data instanceof Float32Array ? '<f4' : data instanceof Int32Array ? '<i4' : '|u1';
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  // Header padded with spaces so that the data starts on a 64-byte boundary, ending in '\n'.
  const total = Math.ceil((10 + header.length + 1) / 64) * 64;
  header = `${header.padEnd(total - 10 - 1, ' ')}\n`;
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  return Buffer.concat([
    head,
    Buffer.from(header, 'latin1'),
    Buffer.from(data.buffer, data.byteOffset, data.byteLength),
  ]);
}

export function writeNpy(file: string, data: Float32Array | Uint8Array | Int32Array, shape: number[]): void {
  writeFileSync(file, encodeNpy(data, shape));
}
