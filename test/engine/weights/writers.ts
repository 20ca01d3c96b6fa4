/**
 * Tiny, independent writers (and a raw reader) for the container formats, used to make
 * variants of the shared fixtures in temp files: other layouts, dtypes, npy versions,
 * compression, and broken files. They share no code with src/engine/weights.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { crc32, deflateRawSync } from 'node:zlib';
import yauzl from 'yauzl';

export interface RawTensor {
  dtype: 'F32' | 'F16' | 'BF16' | 'F64' | 'I32';
  shape: number[];
  bytes: Uint8Array;
}

export function readSafetensorsRaw(file: string): Map<string, RawTensor> {
  const buf = readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<
    string,
    { dtype: RawTensor['dtype']; shape: number[]; data_offsets: [number, number] }
  >;
  const out = new Map<string, RawTensor>();
  for (const [name, e] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    out.set(name, {
      dtype: e.dtype,
      shape: e.shape,
      bytes: buf.subarray(8 + n + e.data_offsets[0], 8 + n + e.data_offsets[1]),
    });
  }
  return out;
}

export function writeSafetensors(file: string, tensors: Map<string, RawTensor>): void {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let off = 0;
  for (const [name, t] of tensors) {
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + t.bytes.length] };
    off += t.bytes.length;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  writeFileSync(file, Buffer.concat([len, Buffer.from(json), ...[...tensors.values()].map((t) => t.bytes)]));
}

/** A float32 copy of little-endian bytes (a copy: Buffer#slice would share the pool). */
export const asF32 = (b: Uint8Array) => new Float32Array(Uint8Array.from(b).buffer);

/** Rows [from, to) of a row-major [rows, cols] float32 matrix stored as bytes. */
export const rowSlice = (b: Uint8Array, cols: number, from: number, to: number) =>
  b.slice(from * cols * 4, to * cols * 4);

/** Entries of an npz, name (with .npy) to raw npy bytes, read with yauzl directly. */
export async function readZipEntries(file: string): Promise<Map<string, Buffer>> {
  const zip = await yauzl.openPromise(file, { lazyEntries: true });
  const out = new Map<string, Buffer>();
  for await (const entry of zip.eachEntry()) {
    const chunks: Buffer[] = [];
    for await (const c of await zip.openReadStreamPromise(entry)) chunks.push(c as Buffer);
    out.set(entry.fileName, Buffer.concat(chunks));
  }
  return out;
}

/**
 * A zip (stored or deflated entries), as np.savez / np.savez_compressed write it; `zip64`
 * writes every size and offset through the ZIP64 extra field and end records, as zip tools
 * do for archives over 4 GB (ViT-H and larger checkpoints).
 */
export function writeZip(
  file: string,
  entries: Map<string, Uint8Array>,
  deflate: boolean,
  zip64 = false,
): void {
  const FULL = 0xffffffff;
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const [name, data] of entries) {
    const fname = Buffer.from(name);
    const body = deflate ? deflateRawSync(data) : Buffer.from(data);
    const crc = crc32(data);
    const localExtra = Buffer.alloc(zip64 ? 20 : 0);
    const cdExtra = Buffer.alloc(zip64 ? 28 : 0);
    if (zip64) {
      localExtra.writeUInt16LE(1, 0);
      localExtra.writeUInt16LE(16, 2);
      localExtra.writeBigUInt64LE(BigInt(data.length), 4);
      localExtra.writeBigUInt64LE(BigInt(body.length), 12);
      cdExtra.writeUInt16LE(1, 0);
      cdExtra.writeUInt16LE(24, 2);
      cdExtra.writeBigUInt64LE(BigInt(data.length), 4);
      cdExtra.writeBigUInt64LE(BigInt(body.length), 12);
      cdExtra.writeBigUInt64LE(BigInt(offset), 20);
    }
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(zip64 ? 45 : 20, 4);
    local.writeUInt16LE(deflate ? 8 : 0, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(zip64 ? FULL : body.length, 18);
    local.writeUInt32LE(zip64 ? FULL : data.length, 22);
    local.writeUInt16LE(fname.length, 26);
    local.writeUInt16LE(localExtra.length, 28);
    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(0x02014b50, 0);
    cd.writeUInt16LE(zip64 ? 45 : 20, 4);
    cd.writeUInt16LE(zip64 ? 45 : 20, 6);
    cd.writeUInt16LE(deflate ? 8 : 0, 10);
    cd.writeUInt32LE(crc, 16);
    cd.writeUInt32LE(zip64 ? FULL : body.length, 20);
    cd.writeUInt32LE(zip64 ? FULL : data.length, 24);
    cd.writeUInt16LE(fname.length, 28);
    cd.writeUInt16LE(cdExtra.length, 30);
    cd.writeUInt32LE(zip64 ? FULL : offset, 42);
    parts.push(local, fname, localExtra, body);
    central.push(cd, fname, cdExtra);
    offset += 30 + fname.length + localExtra.length + body.length;
  }
  const cdBuf = Buffer.concat(central);
  const tail: Buffer[] = [];
  if (zip64) {
    const rec = Buffer.alloc(56);
    rec.writeUInt32LE(0x06064b50, 0);
    rec.writeBigUInt64LE(44n, 4);
    rec.writeUInt16LE(45, 12);
    rec.writeUInt16LE(45, 14);
    rec.writeBigUInt64LE(BigInt(entries.size), 24);
    rec.writeBigUInt64LE(BigInt(entries.size), 32);
    rec.writeBigUInt64LE(BigInt(cdBuf.length), 40);
    rec.writeBigUInt64LE(BigInt(offset), 48);
    const loc = Buffer.alloc(20);
    loc.writeUInt32LE(0x07064b50, 0);
    loc.writeBigUInt64LE(BigInt(offset + cdBuf.length), 8);
    loc.writeUInt32LE(1, 16);
    tail.push(rec, loc);
  }
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(zip64 ? 0xffff : entries.size, 8);
  end.writeUInt16LE(zip64 ? 0xffff : entries.size, 10);
  end.writeUInt32LE(zip64 ? FULL : cdBuf.length, 12);
  end.writeUInt32LE(zip64 ? FULL : offset, 16);
  writeFileSync(file, Buffer.concat([...parts, cdBuf, ...tail, end]));
}

export interface NpyParts {
  header: string;
  data: Buffer;
}

export function splitNpy(npy: Buffer): NpyParts {
  const v = npy[6];
  const len = v === 1 ? npy.readUInt16LE(8) : npy.readUInt32LE(8);
  const start = v === 1 ? 10 : 12;
  return {
    header: npy
      .subarray(start, start + len)
      .toString('latin1')
      .trim(),
    data: npy.subarray(start + len),
  };
}

/** An npy of the given header dict text and data, in format version 1, 2 or 3. */
export function joinNpy(header: string, data: Uint8Array, version: 1 | 2 | 3 = 1): Buffer {
  const pre = version === 1 ? 10 : 12;
  const total = Math.ceil((pre + header.length + 1) / 64) * 64;
  const text = `${header.padEnd(total - pre - 1, ' ')}\n`;
  const head = Buffer.alloc(pre);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = version;
  if (version === 1) head.writeUInt16LE(text.length, 8);
  else head.writeUInt32LE(text.length, 8);
  return Buffer.concat([head, Buffer.from(text, 'latin1'), data]);
}

/** float32 to IEEE half, round to nearest even (normal range only: weights are small). */
export function toHalf(x: number): number {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer)[0];
  const sign = (u >>> 16) & 0x8000;
  const exp = ((u >>> 23) & 0xff) - 127 + 15;
  let mant = u & 0x7fffff;
  if (exp <= 0) return sign; // flush tiny values to zero
  if (exp >= 31) return sign | 0x7c00;
  const round = mant & 0x1fff;
  mant >>>= 13;
  let h = sign | (exp << 10) | mant;
  if (round > 0x1000 || (round === 0x1000 && mant & 1)) h++;
  return h;
}
