import { type FileHandle, open } from 'node:fs/promises';
import { WeightsFormatError } from '../../errors.js';
import { DTYPE_BYTES, type StoredDtype, toFloat32 } from './dtype.js';
import { fmtShape, numel, type TensorSource } from './source.js';

const DTYPES: Record<string, StoredDtype> = { F32: 'f32', F16: 'f16', BF16: 'bf16', F64: 'f64' };
/** Real headers are a few hundred KB at most; a bigger length field means this is not safetensors. */
const MAX_HEADER = 100 << 20;

interface StEntry {
  dtype: string;
  shape: number[];
  /** Absolute file offsets of the tensor's bytes. */
  begin: number;
  end: number;
}

/**
 * Opens a `.safetensors` file: an 8-byte little-endian header length, a JSON header
 * `{name: {dtype, shape, data_offsets: [begin, end]}}`, then the tensor bytes. Every entry is
 * checked against the file's size up front, so a truncated download fails naming the first
 * tensor it cut.
 */
export async function openSafetensors(file: string): Promise<TensorSource> {
  const fh = await open(file, 'r');
  try {
    const size = (await fh.stat()).size;
    const fail = (msg: string): never => {
      throw new WeightsFormatError(`${file}: ${msg}`, { input: file });
    };
    if (size < 8) fail(`not a safetensors file: ${size} bytes, shorter than the 8-byte header length`);
    const lenBuf = Buffer.alloc(8);
    await fh.read(lenBuf, 0, 8, 0);
    const headerLen = Number(lenBuf.readBigUInt64LE(0));
    if (headerLen < 2 || headerLen > MAX_HEADER)
      fail(
        `not a safetensors file: header length ${headerLen} is implausible (2 to ${MAX_HEADER} bytes expected)`,
      );
    if (8 + headerLen > size)
      fail(`truncated: the ${headerLen}-byte JSON header needs ${8 + headerLen} bytes, the file has ${size}`);
    const headerBuf = Buffer.alloc(headerLen);
    await fh.read(headerBuf, 0, headerLen, 8);
    let header: unknown;
    try {
      header = JSON.parse(headerBuf.toString('utf8'));
    } catch (e) {
      fail(`not a safetensors file: header is not JSON (${(e as Error).message})`);
    }
    if (typeof header !== 'object' || header === null || Array.isArray(header))
      fail('safetensors header is not a JSON object');
    const dataStart = 8 + headerLen;
    const entries = new Map<string, StEntry>();
    for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
      if (name === '__metadata__') continue;
      const e = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
      const where = `tensor '${name.length > 120 ? `${name.slice(0, 120)}…` : name}'`;
      if (
        typeof e !== 'object' ||
        e === null ||
        typeof e.dtype !== 'string' ||
        !Array.isArray(e.shape) ||
        !e.shape.every((d) => Number.isInteger(d) && d >= 0) ||
        !Array.isArray(e.data_offsets) ||
        e.data_offsets.length !== 2 ||
        !e.data_offsets.every((d) => Number.isInteger(d) && d >= 0)
      )
        fail(`${where}: malformed header entry ${describe(raw)} (dtype, shape and data_offsets expected)`);
      const shape = e.shape as number[];
      const [b, en] = e.data_offsets as number[];
      const bytesPer = DTYPES[e.dtype as string] ? DTYPE_BYTES[DTYPES[e.dtype as string]] : undefined;
      if (bytesPer !== undefined && en - b !== numel(shape) * bytesPer)
        fail(
          `${where}: ${e.dtype} ${fmtShape(shape)} needs ${numel(shape) * bytesPer} bytes, data_offsets [${b}, ${en}] hold ${en - b}`,
        );
      if (dataStart + en > size)
        fail(`${where}: data ends at byte ${dataStart + en} but the file has ${size} bytes (truncated)`);
      entries.set(name, { dtype: e.dtype as string, shape, begin: dataStart + b, end: dataStart + en });
    }
    return new SafetensorsSource(file, fh, entries);
  } catch (e) {
    await fh.close();
    throw e;
  }
}

/**
 * A header value for a message: its JSON cut to 120 characters. A hostile header can nest arrays
 * deeper than JSON.stringify's stack allows: such a value is described, not printed.
 */
function describe(raw: unknown): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(raw);
  } catch {
    json = undefined;
  }
  if (json === undefined)
    return Array.isArray(raw) ? 'a deeply nested array' : `a deeply nested ${typeof raw}`;
  return json.length > 120 ? `${json.slice(0, 120)}…` : json;
}

class SafetensorsSource implements TensorSource {
  readonly format = 'safetensors' as const;
  readonly names: readonly string[];

  constructor(
    readonly file: string,
    private readonly fh: FileHandle,
    private readonly entries: Map<string, StEntry>,
  ) {
    this.names = [...entries.keys()];
  }

  shape(name: string) {
    return this.entries.get(name)?.shape;
  }

  async read(name: string): Promise<Float32Array> {
    const e = this.entries.get(name);
    if (!e)
      throw new WeightsFormatError(`${this.file}: no tensor '${name}' in the file`, { input: this.file });
    const dtype = DTYPES[e.dtype];
    if (!dtype)
      throw new WeightsFormatError(
        `${this.file}: tensor '${name}' has dtype ${e.dtype}; F32, F16, BF16 or F64 expected`,
        {
          input: this.file,
        },
      );
    const bytes = new Uint8Array(e.end - e.begin);
    for (let done = 0; done < bytes.length; ) {
      const { bytesRead } = await this.fh.read(
        bytes,
        done,
        Math.min(64 << 20, bytes.length - done),
        e.begin + done,
      );
      if (bytesRead === 0)
        throw new WeightsFormatError(
          `${this.file}: tensor '${name}': file ends inside its data (truncated)`,
          { input: this.file },
        );
      done += bytesRead;
    }
    return toFloat32(bytes, dtype, numel(e.shape));
  }

  async close() {
    await this.fh.close();
  }
}
