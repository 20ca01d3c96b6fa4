import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { VideoSourceError } from '../errors.js';
import { isImagePath } from './source.js';

/** A private folder of numbered links to an explicit list of images; `dispose` removes it. */
export interface ImageLinks {
  dir: string;
  dispose(): Promise<void>;
}

/**
 * Lets ffmpeg read exactly `files`, in that order, as an image sequence: a private temporary folder
 * (mode 0700, from mkdtemp) of links named 00000000.ext, 00000001.ext... to the files. ffmpeg then
 * never expands a glob or lists a folder itself, so what the caller checked (the stream API's media
 * roots) is all it reads. One image type per list: image2 picks its decoder from the first name.
 */
export async function linkImages(input: string, files: readonly string[]): Promise<ImageLinks> {
  const fail = (reason: string) => new VideoSourceError(`video source ${input}: ${reason}`, { input });
  if (files.length === 0) throw fail('no image files to read');
  const notImage = files.find((f) => !isImagePath(f));
  if (notImage !== undefined)
    throw fail(
      `${path.basename(notImage)} is not an image (.jpg, .png, ...): a list of files is read as images`,
    );
  const exts = [...new Set(files.map((f) => path.extname(f).toLowerCase()))];
  if (exts.length > 1) throw fail(`the files mix image types (${exts.join(', ')}); name one type`);
  const dir = await mkdtemp(path.join(tmpdir(), 'vitstream-images-'));
  const dispose = () => rm(dir, { recursive: true, force: true });
  try {
    const width = Math.max(8, String(files.length - 1).length);
    await Promise.all(
      files.map((f, i) =>
        symlink(path.resolve(f), path.join(dir, `${String(i).padStart(width, '0')}${exts[0]}`)),
      ),
    );
  } catch (err) {
    await dispose();
    throw new VideoSourceError(
      `video source ${input}: could not prepare its images: ${(err as Error).message}`,
      {
        input,
        cause: err,
      },
    );
  }
  return { dir, dispose };
}
