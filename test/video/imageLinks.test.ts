import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { firstValueFrom, toArray } from 'rxjs';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeFrames } from '../../src/video/decodeFrames.js';
import { linkImages } from '../../src/video/imageLinks.js';
import { ffmpeg, TempDir, waitFor } from './media.js';

// Issue #20 item 1: a source given as an explicit list of image files reads exactly those, in that
// order, through a private folder of links that is gone once ffmpeg is.
const tmp = new TempDir();
const image = (name: string, color: string) => {
  ffmpeg(['-f', 'lavfi', '-i', `color=c=${color}:s=24x24`, '-frames:v', '1', tmp.file(name)]);
  return tmp.file(name);
};
// Link folders go to os.tmpdir(): a private one here, so that other test files cannot interfere.
const privateTmp = tmp.file('tmp');
mkdirSync(privateTmp);
const savedTmpdir = process.env.TMPDIR;
process.env.TMPDIR = privateTmp;
const linkFolders = () => readdirSync(privateTmp).filter((n) => n.startsWith('vitstream-images-'));

afterAll(() => {
  if (savedTmpdir === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = savedTmpdir;
  tmp.dispose();
});

describe('decodeFrames of a list of files', () => {
  it('reads the files in the given order, each frame naming its file, and removes its link folder', async () => {
    const files = [image('z.png', 'red'), image('a.png', 'blue'), image('m.png', 'green')];
    image('not-listed.png', 'white');
    const frames = await firstValueFrom(decodeFrames({ path: tmp.dir, files }, { size: 8 }).pipe(toArray()));
    expect(frames.map((f) => f.file)).toEqual(files);
    // red first: the list's order, not the folder's
    expect(frames[0]!.rgb[0]).toBeGreaterThan(200);
    expect(await waitFor(() => linkFolders().length === 0, 10_000)).toBe(true);
  });

  it('refuses a list mixing image types, or holding a video, with one line naming the source', async () => {
    const jpg = tmp.file('j.jpg');
    ffmpeg(['-f', 'lavfi', '-i', 'color=c=red:s=24x24', '-frames:v', '1', jpg]);
    const read = (files: string[]) =>
      firstValueFrom(decodeFrames({ path: 'shots', files }, { size: 8 }).pipe(toArray()));
    await expect(read([tmp.file('a.png'), jpg])).rejects.toThrow(
      /video source shots: the files mix image types/,
    );
    await expect(read([tmp.file('clip.mp4')])).rejects.toThrow(
      /video source shots: clip.mp4 is not an image/,
    );
    await expect(read([])).rejects.toThrow(/video source shots: no image files/);
    expect(linkFolders()).toEqual([]);
  });

  it('removes link folders of processes that are gone (killed before their clean-up), not of running ones', async () => {
    const gone = spawnSync('true').pid!; // exited: its pid no longer runs
    const orphan = path.join(privateTmp, `vitstream-images-${gone}-abc123`);
    const running = path.join(privateTmp, `vitstream-images-${process.ppid}-def456`);
    const other = path.join(privateTmp, 'vitstream-images-notapid');
    for (const dir of [orphan, running, other]) {
      mkdirSync(dir);
      writeFileSync(path.join(dir, '00000000.png'), '');
    }
    const links = await linkImages('shots', [image('b.png', 'blue')]);
    expect(linkFolders()).toContain(path.basename(links.dir));
    expect(path.basename(links.dir)).toMatch(new RegExp(`^vitstream-images-${process.pid}-`));
    await links.dispose();
    expect(linkFolders().sort()).toEqual([path.basename(running), path.basename(other)].sort());
  });
});
