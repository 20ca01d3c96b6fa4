import { close, open, read } from 'node:fs';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { inflateRawSync, constants as zc } from 'node:zlib';
import yauzl from 'yauzl';
import { WeightsFormatError } from '../../errors.js';
import { DTYPE_BYTES, toFloat32 } from './dtype.js';
import { fortranToC, type NpyHeader, parseNpyHeader } from './npy-header.js';
import { fmtShape, numel, type TensorSource } from './source.js';

const STORED = 0;
const DEFLATED = 8;

interface NpzEntry {
  entry: yauzl.Entry;
  /** Offset in the zip file of the entry's (possibly compressed) bytes. */
  fileDataStart: number;
  header: NpyHeader;
}

const openFd = promisify(open);
const closeFd = promisify(close);
const readFd = promisify(read);

/** Reads exactly `into.length` bytes at `position`, or throws naming what was cut short. */
async function readExactly(fd: number, into: Uint8Array, position: number, what: string): Promise<void> {
  const CHUNK = 64 << 20;
  for (let done = 0; done < into.length; ) {
    const len = Math.min(CHUNK, into.length - done);
    const { bytesRead } = await readFd(fd, into, done, len, position + done);
    if (bytesRead === 0) throw new Error(`${what}: file ends after ${position + done} bytes (truncated)`);
    done += bytesRead;
  }
}

/**
 * Opens a NumPy `.npz` (a zip of `.npy` files, as `np.savez` and Google's ViT checkpoints
 * write it). yauzl reads the zip directory (zip64 included) from our file descriptor; tensor
 * bytes are then read with positioned reads straight into each tensor's array (stored
 * entries) or inflated entry by entry (deflated entries, `np.savez_compressed`).
 * The descriptor belongs to yauzl once it has opened the archive: closing the ZipFile closes it.
 */
export async function openNpz(file: string): Promise<TensorSource> {
  const fd = await openFd(file, 'r');
  let zip: yauzl.ZipFile;
  try {
    zip = await yauzl.fromFdPromise(fd, { lazyEntries: true, autoClose: false, decodeStrings: true });
  } catch (e) {
    await closeFd(fd);
    throw new WeightsFormatError(
      `${file}: not a readable npz (zip) archive, the file may be truncated or corrupt (${(e as Error).message})`,
      { input: file, cause: e },
    );
  }
  const entries = new Map<string, NpzEntry>();
  try {
    for await (const entry of zip.eachEntry()) {
      if (!entry.fileName.endsWith('.npy')) continue;
      const name = entry.fileName.slice(0, -4);
      const { fileDataStart } = await zip.readLocalFileHeaderPromise(entry, { minimal: true });
      entries.set(name, {
        entry,
        fileDataStart,
        header: await readEntryHeader(fd, entry, fileDataStart, file, name),
      });
    }
  } catch (e) {
    zip.close();
    if (e instanceof WeightsFormatError) throw e;
    throw new WeightsFormatError(`${file}: corrupt npz archive (${(e as Error).message})`, {
      input: file,
      cause: e,
    });
  }
  return new NpzSource(file, fd, zip, entries);
}

async function readEntryHeader(
  fd: number,
  entry: yauzl.Entry,
  fileDataStart: number,
  file: string,
  name: string,
) {
  const where = `${file}: tensor '${name}'`;
  if (entry.isEncrypted())
    throw new WeightsFormatError(`${where}: encrypted zip entries are not supported`, { input: file });
  const method = entry.compressionMethod;
  if (method !== STORED && method !== DEFLATED)
    throw new WeightsFormatError(
      `${where}: zip compression method ${method} not supported (stored or deflate expected)`,
      {
        input: file,
      },
    );
  // Headers are small (np.save pads them to 64 or 128 bytes); grow the window if one is not.
  let window = 4096;
  for (;;) {
    const raw = new Uint8Array(Math.min(window, entry.compressedSize));
    try {
      await readExactly(fd, raw, fileDataStart, where);
    } catch (e) {
      throw new WeightsFormatError((e as Error).message, { input: file, cause: e });
    }
    let bytes = raw;
    if (method === DEFLATED) {
      try {
        // Z_SYNC_FLUSH decodes as much as this prefix holds instead of failing on the cut.
        bytes = inflateRawSync(raw, { finishFlush: zc.Z_SYNC_FLUSH });
      } catch (e) {
        throw new WeightsFormatError(`${where}: corrupt deflate data (${(e as Error).message})`, {
          input: file,
          cause: e,
        });
      }
    }
    let parsed: ReturnType<typeof parseNpyHeader>;
    try {
      parsed = parseNpyHeader(bytes);
    } catch (e) {
      throw new WeightsFormatError(`${where}: ${(e as Error).message}`, { input: file, cause: e });
    }
    if (!('need' in parsed)) {
      const expected = parsed.dataOffset + numel(parsed.shape) * DTYPE_BYTES[parsed.dtype];
      if (expected !== entry.uncompressedSize)
        throw new WeightsFormatError(
          `${where}: npy header says ${parsed.dtype} ${fmtShape(parsed.shape)} (${expected} bytes with header) but the entry holds ${entry.uncompressedSize} bytes`,
          { input: file },
        );
      return parsed;
    }
    if (raw.length >= entry.compressedSize)
      throw new WeightsFormatError(
        `${where}: npy header cut short (${bytes.length} of ${parsed.need} bytes)`,
        { input: file },
      );
    window *= 16;
  }
}

class NpzSource implements TensorSource {
  readonly format = 'npz' as const;
  readonly names: readonly string[];

  constructor(
    readonly file: string,
    private readonly fd: number,
    private readonly zip: yauzl.ZipFile,
    private readonly entries: Map<string, NpzEntry>,
  ) {
    this.names = [...entries.keys()];
  }

  shape(name: string) {
    return this.entries.get(name)?.header.shape;
  }

  async read(name: string): Promise<Float32Array> {
    const e = this.entries.get(name);
    if (!e)
      throw new WeightsFormatError(`${this.file}: no tensor '${name}' in the archive`, { input: this.file });
    const { header } = e;
    const count = numel(header.shape);
    const bytes = new Uint8Array(count * DTYPE_BYTES[header.dtype]);
    const where = `${this.file}: tensor '${name}'`;
    try {
      if (e.entry.compressionMethod === STORED)
        await readExactly(this.fd, bytes, e.fileDataStart + header.dataOffset, where);
      else await this.inflateInto(e, bytes);
    } catch (err) {
      if (err instanceof WeightsFormatError) throw err;
      throw new WeightsFormatError(`${where}: cannot read data (${(err as Error).message})`, {
        input: this.file,
        cause: err,
      });
    }
    const data = toFloat32(bytes, header.dtype, count, header.bigEndian);
    return header.fortran ? fortranToC(data, header.shape) : data;
  }

  private async inflateInto(e: NpzEntry, bytes: Uint8Array): Promise<void> {
    const stream = await this.zip.openReadStreamPromise(e.entry);
    let skip = e.header.dataOffset;
    let filled = 0;
    await pipeline(
      stream,
      new Writable({
        write(chunk: Buffer, _enc, done) {
          let c = chunk;
          if (skip > 0) {
            const s = Math.min(skip, c.length);
            skip -= s;
            c = c.subarray(s);
          }
          if (filled + c.length > bytes.length)
            return done(new Error('entry holds more data than its npy header says'));
          bytes.set(c, filled);
          filled += c.length;
          done();
        },
      }),
    );
    if (filled !== bytes.length) throw new Error(`entry ends after ${filled} of ${bytes.length} data bytes`);
  }

  async close() {
    this.zip.close();
  }
}
