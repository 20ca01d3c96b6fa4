import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { InputError } from '../errors.js';
import { cannotWrite } from './output-file.js';

/** A NumPy array read from `.npy`: little-endian float32, uint8 or int32 only (what vitstream uses). */
export interface NpyArray {
  dtype: 'float32' | 'uint8' | 'int32';
  shape: number[];
  data: Float32Array | Uint8Array | Int32Array;
}

const DTYPES = { '<f4': 'float32', '|u1': 'uint8', '<i4': 'int32' } as const;

/**
 * Parses `.npy` bytes; `source` names the input in errors. Every header field is checked before it
 * is used: version, header length, dtype, shape (non-negative integers) and the data's size. Data
 * views the given buffer when aligned and is copied when not (a typed array cannot start mid-element).
 */
export function parseNpy(buf: Uint8Array, source = 'npy'): NpyArray {
  const fail = (why: string): never => {
    throw new InputError(`${source}: ${why}`, { input: source });
  };
  if (buf.length < 10 || String.fromCharCode(...buf.subarray(0, 6)) !== '\x93NUMPY')
    fail('not a .npy file (bad magic)');
  const major = buf[6]!;
  if (major < 1 || major > 3) fail(`.npy format version ${major} not supported (1, 2 or 3 expected)`);
  if (major > 1 && buf.length < 12) fail('truncated .npy header');
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const start = major === 1 ? 10 : 12;
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  if (start + headerLen > buf.length)
    fail(`truncated .npy header: ${headerLen} bytes announced, ${buf.length - start} present`);
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(
    buf.subarray(start, start + headerLen),
  );
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*True/.test(header);
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || shapeText === undefined) return fail('malformed .npy header (descr and shape expected)');
  if (fortran) fail('Fortran-ordered arrays are not supported');
  const dtype = DTYPES[descr as keyof typeof DTYPES];
  if (!dtype) return fail(`dtype ${descr.slice(0, 20)} not supported (float32, uint8 or int32 expected)`);
  const dims = shapeText
    .split(',')
    .map((s) => s.trim().replace(/L$/, ''))
    .filter(Boolean);
  if (!dims.every((d) => /^\d{1,15}$/.test(d)))
    fail(`malformed shape (${shapeText.slice(0, 60)}): dimensions must be non-negative integers`);
  const shape = dims.map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const off = start + headerLen;
  const bytesPer = dtype === 'uint8' ? 1 : 4;
  if (!Number.isSafeInteger(count * bytesPer) || buf.length - off < count * bytesPer)
    fail(`truncated: shape [${shape.join(', ')}] needs ${count * bytesPer} bytes, found ${buf.length - off}`);
  let bytes = buf.subarray(off, off + count * bytesPer);
  if (bytes.byteOffset % bytesPer !== 0) bytes = new Uint8Array(bytes);
  const data =
    dtype === 'float32'
      ? new Float32Array(bytes.buffer, bytes.byteOffset, count)
      : dtype === 'int32'
        ? new Int32Array(bytes.buffer, bytes.byteOffset, count)
        : new Uint8Array(bytes.buffer, bytes.byteOffset, count);
  return { dtype, shape, data };
}

export function readNpy(file: string): NpyArray {
  let buf: Buffer;
  try {
    // A device (/dev/zero) would be read forever.
    if (!statSync(file).isFile()) throw new Error('not a regular file');
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

/** Writes a .npy; a failure (a full disk, a folder in the way) is an InputError naming the file. */
export function writeNpy(file: string, data: Float32Array | Uint8Array | Int32Array, shape: number[]): void {
  try {
    writeFileSync(file, encodeNpy(data, shape));
  } catch (e) {
    throw cannotWrite(file, 'the array', e);
  }
}
