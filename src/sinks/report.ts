import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { VitstreamError } from '../errors.js';
import type { Prediction } from '../predictions.js';
import { thumbnailDataUrl } from '../server/thumbnail.js';
import { cannotWrite, checkWritable } from '../util/output-file.js';
import { packageRoot } from '../util/paths.js';
import type { FrameInfo } from '../video/frame.js';
import { type ReportFile, type ReportThumbnail, renderReportHtml } from './report-html.js';
import type { ReportPoint } from './report-summary.js';

export interface ReportOptions {
  /** Shown at the top (the command line, say). */
  title?: string;
  /** The model's name, for the header. */
  model?: string;
  /** Thumbnails kept per input file (default 24): the first class changes get one. */
  maxThumbnailsPerFile?: number;
  /** Longer side of a thumbnail in pixels (default 96; never upscaled). */
  thumbnailSide?: number;
  /** Frames' pixels held while their predictions are on the way (default 256). */
  maxPendingFrames?: number;
  now?: () => Date;
}

/** What classify knows of each input when the run ends. */
export interface ReportInput {
  id: string;
  file: string;
  error?: string;
}

export interface RunReport {
  /** classify's `onFrames`: copies the pixels of frames whose prediction may start a new class. */
  onFrames(frames: FrameInfo[], rgb: Uint8Array, frameBytes: number): void;
  /** One prediction, in the order classify emits them (per stream, frame order). */
  add(p: Prediction): void;
  /** Writes the HTML: a temporary file beside the target, renamed over it once complete. */
  write(inputs: readonly ReportInput[]): Promise<void>;
}

interface StreamState {
  points: ReportPoint[];
  thumbnails: ReportThumbnail[];
  changesWithoutThumbnail: number;
  lastLabel?: string;
  /** Frame index -> pixels at model size, until that frame's prediction arrives. */
  pending: Map<number, { rgb: Uint8Array; width: number; height: number }>;
}

/**
 * The `classify --report` sink: collects every top-1 prediction and a few thumbnails, and writes
 * one self-contained HTML page at the end. Nothing is written before `write()`, so a run that
 * fails earlier leaves an existing report as it was. Memory: the points (a few numbers a frame),
 * at most `maxThumbnailsPerFile` small PNGs per file, and at most `maxPendingFrames` frames of
 * pixels waiting for their predictions (in practice the batches inside the engine).
 */
export function openReport(file: string, options: ReportOptions = {}): RunReport {
  // A wrong path fails now, before the model loads, not after the whole run.
  checkWritable(file, 'the report');
  const maxThumbs = options.maxThumbnailsPerFile ?? 24;
  const side = options.thumbnailSide ?? 96;
  const maxPending = options.maxPendingFrames ?? 256;
  const streams = new Map<string, StreamState>();
  let pendingCount = 0;
  const stateOf = (id: string): StreamState => {
    let s = streams.get(id);
    if (!s) {
      s = { points: [], thumbnails: [], changesWithoutThumbnail: 0, pending: new Map() };
      streams.set(id, s);
    }
    return s;
  };
  const dropOnePendingFrame = () => {
    for (const s of streams.values()) {
      const first = s.pending.keys().next();
      if (!first.done) {
        s.pending.delete(first.value);
        pendingCount--;
        return;
      }
    }
  };

  return {
    onFrames(frames, rgb, frameBytes) {
      frames.forEach((f, i) => {
        const s = stateOf(f.streamId);
        // The top-1 class is not known yet: keep the pixels of every frame until its prediction
        // says whether the class changed there, unless this file's thumbnails are all taken.
        if (s.thumbnails.length >= maxThumbs) return;
        if (pendingCount >= maxPending) dropOnePendingFrame();
        s.pending.set(f.index, {
          rgb: rgb.slice(i * frameBytes, (i + 1) * frameBytes),
          width: f.width,
          height: f.height,
        });
        pendingCount++;
      });
    },
    add(p) {
      const s = stateOf(p.streamId);
      const top = p.top[0];
      if (!top) return;
      s.points.push({ ptsMs: p.ptsMs, label: top.label, index: top.index, score: top.score });
      const pixels = s.pending.get(p.frame);
      for (const k of s.pending.keys()) {
        if (k > p.frame) break;
        s.pending.delete(k);
        pendingCount--;
      }
      if (top.label === s.lastLabel) return;
      s.lastLabel = top.label;
      if (s.thumbnails.length >= maxThumbs || !pixels) {
        s.changesWithoutThumbnail++;
        return;
      }
      s.thumbnails.push({
        frame: p.frame,
        ptsMs: p.ptsMs,
        label: top.label,
        index: top.index,
        score: top.score,
        width: pixels.width,
        height: pixels.height,
        dataUrl: thumbnailDataUrl(pixels, side),
      });
    },
    async write(inputs) {
      const files: ReportFile[] = inputs.map((input) => {
        const s = streams.get(input.id);
        return {
          id: input.id,
          file: input.file,
          error: input.error,
          points: s?.points ?? [],
          thumbnails: s?.thumbnails ?? [],
          changesWithoutThumbnail: s?.changesWithoutThumbnail ?? 0,
        };
      });
      const html = renderReportHtml({
        title: options.title ?? 'vitstream classify',
        model: options.model,
        createdAt: (options.now ?? (() => new Date()))(),
        files,
        timelineJs: readTimelineAsset('timeline.js'),
        timelineCss: readTimelineAsset('timeline.css'),
      });
      writeAtomically(file, html);
    },
  };
}

/** The dashboard's timeline files, inlined so that the report needs nothing beside it. */
function readTimelineAsset(name: string): string {
  const where = path.join(packageRoot(), 'src', 'server', 'public', name);
  try {
    return readFileSync(where, 'utf8');
  } catch (cause) {
    throw new VitstreamError(`report: cannot read ${where} (part of the package)`, { input: where, cause });
  }
}

/** Temp file in the same folder, then rename: a reader sees the old report or the whole new one. */
function writeAtomically(file: string, text: string): void {
  const tmp = path.join(
    path.dirname(path.resolve(file)),
    `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`,
  );
  try {
    // checkWritable accepted missing folders below a writable one: make them.
    mkdirSync(path.dirname(tmp), { recursive: true });
    writeFileSync(tmp, text);
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw cannotWrite(file, 'the report', e);
  }
}
