import { lstat, mkdtemp, readdir, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { VideoSourceError } from '../errors.js';
import { processAlive } from '../util/process-alive.js';
import { isImagePath } from './source.js';

/** A private folder of numbered links to an explicit list of images; `dispose` removes it. */
export interface ImageLinks {
  dir: string;
  dispose(): Promise<void>;
}

const PREFIX = 'vitstream-images-';

/**
 * Removes link folders that a killed process (SIGKILL, power) left behind: those named after a pid
 * that no longer runs and owned by this user. Best effort: anything in the way is left alone.
 */
async function removeOrphans(root: string): Promise<void> {
  const names = await readdir(root).catch(() => [] as string[]);
  for (const name of names) {
    const pid = Number(/^vitstream-images-(\d+)-/.exec(name)?.[1]);
    if (!pid || pid === process.pid || processAlive(pid)) continue;
    const dir = path.join(root, name);
    const st = await lstat(dir).catch(() => undefined);
    if (!st?.isDirectory() || st.uid !== process.getuid?.()) continue;
    await rm(dir, { recursive: true, force: true }).catch(() => {});
  }
}

/**
 * Lets ffmpeg read exactly `files`, in that order, as an image sequence: a private temporary folder
 * (mode 0700, from mkdtemp) of links named 00000000.ext, 00000001.ext... to the files. ffmpeg then
 * never expands a glob or lists a folder itself, so what the caller checked (the stream API's media
 * roots) is all it reads. One image type per list: image2 picks its decoder from the first name.
 * The folder's name carries this process's pid, so that a later run can remove it if this one is killed.
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
  await removeOrphans(tmpdir());
  const dir = await mkdtemp(path.join(tmpdir(), `${PREFIX}${process.pid}-`));
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
