import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import type { Prediction } from '../../src/predictions.js';
import { openReport } from '../../src/sinks/report.js';
import { summarizePoints } from '../../src/sinks/report-summary.js';
import type { FrameInfo } from '../../src/video/frame.js';

// The classify --report sink with hand-made frames and predictions (no engine, no ffmpeg).

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'vitstream-report-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const SIDE = 8;
const info = (streamId: string, index: number): FrameInfo => ({
  streamId,
  index,
  ptsMs: index * 100,
  receivedAtMs: 0,
  width: SIDE,
  height: SIDE,
});
const prediction = (streamId: string, frame: number, label: string, score = 0.5): Prediction => ({
  streamId,
  frame,
  ptsMs: frame * 100,
  receivedAtMs: 0,
  latencyMs: 1,
  top: [{ label, index: label.length, score }],
});

/** Feeds frames the way classify does: a prediction carries its frame's pixels when keepPixels asks. */
function feed(report: ReturnType<typeof openReport>, streamId: string, labels: string[]) {
  labels.forEach((label, i) => {
    const p = prediction(streamId, i, label);
    // Each frame's pixels hold its own index, so a thumbnail shows which frame it was taken from.
    if (report.keepPixels(info(streamId, i)))
      p.image = { rgb: new Uint8Array(SIDE * SIDE * 3).fill(i), width: SIDE, height: SIDE };
    report.add(p);
  });
}

const dataOf = (html: string) =>
  JSON.parse(html.match(/<script type="application\/json" id="report-data">(.*?)<\/script>/s)![1]!) as {
    classes: [string, number][];
    files: { id: string; points: [number, number, number][] }[];
  };

describe('openReport', () => {
  it('keeps one thumbnail per class change, from that very frame, and at most N per file', async () => {
    const out = path.join(tmp, 'a.html');
    const report = openReport(out, { maxThumbnailsPerFile: 3 });
    const labels = ['cat', 'cat', 'dog', 'dog', 'dog', 'cat', 'bird', 'bird', 'dog', 'dog'];
    feed(report, 'clip.mp4', labels);
    await report.write([{ id: 'clip.mp4', file: 'clip.mp4' }]);
    const html = readFileSync(out, 'utf8');
    const figures = [...html.matchAll(/<figure class="thumb" data-frame="(\d+)" data-label="([^"]+)">/g)].map(
      (m) => [Number(m[1]), m[2]],
    );
    expect(figures).toEqual([
      [0, 'cat'],
      [2, 'dog'],
      [5, 'cat'],
    ]);
    // Frames 6 (bird) and 8 (dog) changed class too, past the limit of 3.
    expect(html).toContain('2 more class change(s) without a thumbnail');
    // The PNG of frame 5 is made of the value 5: decode its IDAT to check the pixels came from there.
    const { inflateSync } = await import('node:zlib');
    const url = html.match(/data-frame="5"[^>]*><img src="data:image\/png;base64,([^"]+)"/)![1]!;
    const png = Buffer.from(url, 'base64');
    const idat = png.subarray(png.indexOf('IDAT') + 4, png.indexOf('IEND') - 8);
    const raw = inflateSync(idat);
    expect(raw[1]).toBe(5); // first pixel of the first row (after its filter byte)
    const data = dataOf(html);
    expect(data.files[0]!.points.map(([t, c]) => [t, data.classes[c]![0]])).toEqual(
      labels.map((l, i) => [i * 100, l]),
    );
  });

  it('asks for pixels only while a file still has thumbnails to take', () => {
    const report = openReport(path.join(tmp, 'b.html'), { maxThumbnailsPerFile: 2 });
    feed(report, 's', ['cat', 'cat', 'dog', 'dog']);
    // Two changes, two thumbnails: this file asks no more; another file still does.
    expect(report.keepPixels(info('s', 4))).toBe(false);
    expect(report.keepPixels(info('t', 0))).toBe(true);
  });

  it('escapes hostile labels and file names: nothing they hold becomes markup or script', async () => {
    const out = path.join(tmp, 'c.html');
    const evil = '</script><img src=x onerror="alert(1)">';
    const report = openReport(out);
    feed(report, evil, [evil, 'ok']);
    await report.write([{ id: evil, file: `/videos/${evil}.mp4`, error: `bad <b>${evil}` }]);
    const html = readFileSync(out, 'utf8');
    expect(html).not.toContain('<img src=x');
    expect(html.match(/<\/script>/g)).toHaveLength(2); // the data and the module, nothing else
    expect(dataOf(html).classes.map((c) => c[0])).toEqual([evil, 'ok']);
  });

  it('refuses an unwritable path at once, and never damages an existing report', async () => {
    const blocker = path.join(tmp, 'a-file');
    writeFileSync(blocker, 'x');
    expect(() => openReport(path.join(blocker, 'r.html'))).toThrow(InputError);
    expect(() => openReport(path.join(blocker, 'r.html'))).toThrow(
      /cannot write the report to .*a-file\/r\.html/,
    );

    // A run that fails before write(): the old report stays as it was.
    const old = path.join(tmp, 'old.html');
    writeFileSync(old, 'precious');
    const unfinished = openReport(old);
    feed(unfinished, 's', ['cat', 'dog']);
    expect(readFileSync(old, 'utf8')).toBe('precious');

    // A write that fails (the target became a folder): an error naming the file, no temp left.
    const dir = path.join(tmp, 'racy');
    mkdirSync(dir);
    const target = path.join(dir, 'r.html');
    const racy = openReport(target);
    mkdirSync(target);
    writeFileSync(path.join(target, 'keep'), 'k');
    await expect(racy.write([{ id: 's', file: 's' }])).rejects.toThrow(
      /cannot write the report to .*r\.html/,
    );
    expect(readdirSync(dir)).toEqual(['r.html']);
  });
});

describe('summarizePoints', () => {
  it('gives frames, time covered and share of time per class by the timeline rule', () => {
    const p = (ptsMs: number, label: string) => ({ ptsMs, label, index: 0, score: 1 });
    const s = summarizePoints([p(0, 'a'), p(500, 'a'), p(1000, 'b'), p(1500, 'a'), p(9000, 'b')]);
    expect(s.frames).toBe(5);
    // 0.5 s each, and the frames before the gap and at the end hold one step.
    expect(s.durationMs).toBe(2500);
    expect(s.classes.map((c) => [c.label, c.frames, c.ms, c.share])).toEqual([
      ['a', 3, 1500, 0.6],
      ['b', 2, 1000, 0.4],
    ]);
  });
});
