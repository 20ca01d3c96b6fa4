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
  now?: () => Date;
}

/** What classify knows of each input when the run ends. */
export interface ReportInput {
  id: string;
  file: string;
  error?: string;
}

export interface RunReport {
  /**
   * classify's `keepPixels`: whether a frame's prediction should carry its pixels. The top-1 class is
   * not known before the prediction, so every frame of a file asks until its thumbnails are all taken.
   */
  keepPixels(frame: FrameInfo): boolean;
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
}

/**
 * The `classify --report` sink: collects every top-1 prediction and a few thumbnails, and writes
 * one self-contained HTML page at the end. Nothing is written before `write()`, so a run that
 * fails earlier leaves an existing report as it was. Memory: the points (a few numbers a frame) and
 * at most `maxThumbnailsPerFile` small PNGs per file; the pixels a prediction carries are dropped
 * with it unless they become a thumbnail.
 */
export function openReport(file: string, options: ReportOptions = {}): RunReport {
  // A wrong path fails now, before the model loads, not after the whole run.
  checkWritable(file, 'the report');
  const maxThumbs = options.maxThumbnailsPerFile ?? 24;
  const side = options.thumbnailSide ?? 96;
  const streams = new Map<string, StreamState>();
  const stateOf = (id: string): StreamState => {
    let s = streams.get(id);
    if (!s) {
      s = { points: [], thumbnails: [], changesWithoutThumbnail: 0 };
      streams.set(id, s);
    }
    return s;
  };

  return {
    keepPixels(frame) {
      return stateOf(frame.streamId).thumbnails.length < maxThumbs;
    },
    add(p) {
      const s = stateOf(p.streamId);
      const top = p.top[0];
      if (!top) return;
      s.points.push({ ptsMs: p.ptsMs, label: top.label, index: top.index, score: top.score });
      const pixels = p.image;
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
