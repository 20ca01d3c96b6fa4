import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import type { Prediction } from '../../src/predictions.js';
import { openPredictionFile, openPredictionStream } from '../../src/sinks/file.js';

const P = (streamId: string, frame: number, labels: string[]): Prediction => ({
  streamId,
  frame,
  ptsMs: frame * 33.366,
  receivedAtMs: Date.UTC(2024, 5, 3, 12, 0, 0, frame),
  latencyMs: 12.34 + frame,
  top: labels.map((label, i) => ({ label, index: 100 + i, score: 0.5 / (i + 1) })),
});

/** RFC 4180 fields: quoted fields may hold commas, doubled quotes and newlines. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      row.push(field);
      field = '';
    } else if (ch === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += ch;
  }
  if (field || row.length) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'vitstream-sinks-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

// ImageNet labels hold commas; a stream id may be a URL with a comma or quote in it.
const predictions = [
  P('cam,1', 0, ['pop bottle, soda bottle', 'water jug']),
  P('rtsp://h/"x"', 3, ['sports car, sport car', 'convertible']),
  P('cam,1', 6, ['line\nbreak', 'plain']),
  { ...P('photos/*.jpg', 1, ['tabby, tabby cat', 'plain']), file: 'photos/a, "b".jpg' },
];

describe('prediction file sinks', () => {
  it('JSONL: one JSON object per line, the prediction plus an ISO receivedAt', async () => {
    const file = path.join(tmp, 'p.jsonl');
    const sink = openPredictionFile(file);
    for (const p of predictions) await sink.write(p);
    await sink.close();
    const lines = readFileSync(file, 'utf8').split('\n');
    expect(lines.at(-1)).toBe('');
    expect(lines.slice(0, -1).map((l) => JSON.parse(l))).toEqual(
      predictions.map((p) => ({ ...p, receivedAt: new Date(p.receivedAtMs).toISOString() })),
    );
  });

  it('JSONL: pixels a prediction carries for a thumbnail or report stay out of the file', async () => {
    const file = path.join(tmp, 'pixels.jsonl');
    const sink = openPredictionFile(file);
    const p = {
      ...P('cam', 0, ['a', 'b']),
      image: { rgb: new Uint8Array(32 * 32 * 3), width: 32, height: 32 },
    };
    await sink.write(p);
    await sink.close();
    const line = JSON.parse(readFileSync(file, 'utf8'));
    expect(line).not.toHaveProperty('image');
    expect(line.top).toEqual(p.top);
  });

  it('CSV (from the .csv name): a header, then one row per (frame, rank), quoted where needed', async () => {
    const file = path.join(tmp, 'p.csv');
    const sink = openPredictionFile(file);
    for (const p of predictions) await sink.write(p);
    await sink.close();
    const rows = parseCsv(readFileSync(file, 'utf8'));
    expect(rows[0]).toEqual([
      'stream_id',
      'frame',
      'pts_ms',
      'received_at',
      'latency_ms',
      'rank',
      'class_index',
      'label',
      'score',
      'file',
    ]);
    const expected = predictions.flatMap((p) =>
      p.top.map((t, r) => [
        p.streamId,
        String(p.frame),
        p.ptsMs.toFixed(3),
        new Date(p.receivedAtMs).toISOString(),
        p.latencyMs.toFixed(1),
        String(r + 1),
        String(t.index),
        t.label,
        t.score.toFixed(6),
        p.file ?? '',
      ]),
    );
    expect(rows.slice(1)).toEqual(expected);
  });

  it('waits for drain when the destination is slow (backpressure), keeping order', async () => {
    const pending: (() => void)[] = [];
    const chunks: string[] = [];
    const slow = new Writable({
      highWaterMark: 64,
      write(chunk: Buffer, _enc, cb) {
        chunks.push(chunk.toString());
        pending.push(cb);
      },
    });
    const sink = openPredictionStream(slow, 'jsonl', 'slow');
    let resolved = false;
    const first = sink.write(predictions[0]!).then(() => (resolved = true));
    await new Promise((r) => setImmediate(r));
    // One line is over 64 bytes: the writable is full, so write() must not resolve yet.
    expect(resolved).toBe(false);
    expect(pending).toHaveLength(1);
    pending.shift()!();
    await first;
    expect(resolved).toBe(true);
    const rest = Promise.all([sink.write(predictions[1]!), sink.write(predictions[2]!)]);
    while (chunks.length < 3) {
      await new Promise((r) => setImmediate(r));
      pending.shift()?.();
    }
    pending.shift()?.();
    await rest;
    await sink.close();
    expect(chunks.map((c) => JSON.parse(c).frame)).toEqual([0, 3, 6]);
    // A stream sink (stdout) is not ended by close().
    expect(slow.writableEnded).toBe(false);
  });

  it('a file that cannot be written: InputError naming it when the sink is opened, before any work', () => {
    const file = path.join(tmp, 'no-such-dir', 'p.jsonl');
    expect(() => openPredictionFile(file)).toThrow(InputError);
    expect(() => openPredictionFile(file)).toThrow(`cannot write predictions to ${file}`);
  });

  it('an existing file is untouched until the run ends, then replaced whole; no temporary file is left', async () => {
    const dir = mkdtempSync(path.join(tmp, 'replace-'));
    const file = path.join(dir, 'prev.jsonl');
    writeFileSync(file, '{"precious":1}\n');
    const sink = openPredictionFile(file);
    await sink.write(predictions[0]!);
    expect(readFileSync(file, 'utf8')).toBe('{"precious":1}\n');
    await sink.close();
    expect(JSON.parse(readFileSync(file, 'utf8')).frame).toBe(0);
    expect(readdirSync(dir)).toEqual(['prev.jsonl']);
  });

  it('a run that fails before any prediction (model missing, input missing) leaves the old file as it was', async () => {
    const dir = mkdtempSync(path.join(tmp, 'abort-'));
    for (const format of ['jsonl', 'csv'] as const) {
      const file = path.join(dir, `prev.${format}`);
      writeFileSync(file, 'precious\n');
      await openPredictionFile(file).abort();
      expect(readFileSync(file, 'utf8')).toBe('precious\n');
    }
    expect(readdirSync(dir).sort()).toEqual(['prev.csv', 'prev.jsonl']);
  });

  it('a run that fails after some predictions keeps those whole lines in place of the file', async () => {
    const dir = mkdtempSync(path.join(tmp, 'partial-'));
    const file = path.join(dir, 'prev.jsonl');
    writeFileSync(file, 'precious\n');
    const sink = openPredictionFile(file);
    await sink.write(predictions[0]!);
    await sink.write(predictions[1]!);
    await sink.abort();
    expect(
      readFileSync(file, 'utf8')
        .split('\n')
        .slice(0, -1)
        .map((l) => JSON.parse(l).frame),
    ).toEqual([0, 3]);
    expect(readdirSync(dir)).toEqual(['prev.jsonl']);
  });

  it('writes through a symlink, keeping the link', async () => {
    const dir = mkdtempSync(path.join(tmp, 'link-'));
    writeFileSync(path.join(dir, 'target.jsonl'), 'old\n');
    symlinkSync('target.jsonl', path.join(dir, 'link.jsonl'));
    const sink = openPredictionFile(path.join(dir, 'link.jsonl'));
    await sink.write(predictions[0]!);
    await sink.close();
    expect(JSON.parse(readFileSync(path.join(dir, 'target.jsonl'), 'utf8')).frame).toBe(0);
    expect(readFileSync(path.join(dir, 'link.jsonl'), 'utf8')).toBe(
      readFileSync(path.join(dir, 'target.jsonl'), 'utf8'),
    );
  });

  it('a device is written directly, and its write error (/dev/full: no space) names the file', async () => {
    const sink = openPredictionFile('/dev/full');
    const failed = (async () => {
      for (let i = 0; i < 1000; i++) await sink.write(predictions[i % predictions.length]!);
      await sink.close();
    })();
    await expect(failed).rejects.toThrow(/cannot write predictions to \/dev\/full: .*ENOSPC/);
  });
});
