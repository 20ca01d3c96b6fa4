import path from 'node:path';
import type { Command } from 'commander';
import { from, lastValueFrom, mergeMap, tap } from 'rxjs';
import { fileBatch } from '../../../pipelines/fileBatch.js';
import { formatTable } from '../../bench/table.js';
import { InputError } from '../../errors.js';
import { classify } from '../../operators/classify.js';
import type { SampleOptions } from '../../operators/sampleFrames.js';
import { type FileFormat, openPredictionFile, openPredictionStream } from '../../sinks/file.js';
import { openReport } from '../../sinks/report.js';
import { isOneOf } from '../../util/one-of.js';
import { RESIZE_MODES, type ResizeMode } from '../../video/args.js';
import { probeMedia } from '../../video/probe.js';
import { addEngineOptions, type EngineFlags, openEngineFromFlags } from '../engine-options.js';
import { parsePositiveInt } from '../options.js';
import { progressBoard } from '../progress.js';

interface ClassifyFlags extends EngineFlags {
  every?: string;
  fps?: string;
  out?: string;
  format?: string;
  topK: string;
  resize: string;
  report?: string;
}

interface FileSummary {
  id: string;
  file: string;
  frames: number;
  firstAt?: number;
  lastAt?: number;
  top1: Map<string, number>;
  error?: string;
}

export function registerClassify(program: Command): void {
  const cmd = program
    .command('classify')
    .description('classify the frames of video files (or image folders/globs); predictions as JSONL or CSV')
    .argument('<files...>', 'video files, image directories or globs')
    .option('--every <n>', 'classify every n-th frame')
    .option('--fps <f>', 'classify f frames per second of video')
    .option('--out <file>', 'write predictions here (.jsonl or .csv); default: JSONL on stdout')
    .option('--format <fmt>', 'jsonl or csv (default: from --out, else jsonl)')
    .option('--top-k <k>', 'classes per prediction', '5')
    .option('--resize <mode>', 'squash, center-crop or letterbox', 'squash')
    .option('--report <file>', 'also write a self-contained HTML report: timeline, thumbnails, summary');
  addEngineOptions(cmd).action(async (files: string[], f: ClassifyFlags) => {
    const sample = parseSample(f);
    const format = (f.format ?? (f.out?.endsWith('.csv') ? 'csv' : 'jsonl')) as FileFormat;
    if (format !== 'jsonl' && format !== 'csv')
      throw new InputError(`--format: expected jsonl or csv, got "${f.format}"`, { input: '--format' });
    if (!isOneOf(RESIZE_MODES, f.resize))
      throw new InputError(`--resize: expected squash, center-crop or letterbox, got "${f.resize}"`, {
        input: '--resize',
      });
    const topK = parsePositiveInt(f.topK, '--top-k');
    // The output first: an unwritable --out fails before the model is loaded.
    const htmlReport = f.report
      ? openReport(f.report, { title: `vitstream classify ${files.join(' ')}`, model: f.model })
      : undefined;
    const sink = f.out ? openPredictionFile(f.out, format) : undefined;
    const engine = await openEngineFromFlags(f, program.opts().logLevel).catch(async (e: unknown) => {
      await sink?.close().catch(() => undefined);
      throw e;
    });
    const board = progressBoard();
    // Stream ids are the paths as given; a file named twice gets a suffix so its counts stay its own.
    const summaries = new Map<string, FileSummary>();
    const sources = files.map((file) => {
      let id = file;
      for (let n = 2; summaries.has(id); n++) id = `${file}#${n}`;
      summaries.set(id, { id, file, frames: 0, top1: new Map() });
      return { id, path: file };
    });
    await Promise.all(
      sources.map(async (s) => {
        const info = await probeMedia(s.path);
        const expected =
          info.estimatedFrames && sample
            ? estimateSampled(info.estimatedFrames, info.fps, sample)
            : info.estimatedFrames;
        board.add(s.id, path.basename(s.path), expected);
      }),
    );
    const t0 = Date.now();
    let t1: number | undefined;
    try {
      const predictions = fileBatch(sources, {
        size: engine.config.imageSize,
        resize: f.resize as ResizeMode,
        sample,
        maxBatch: engine.maxBatch,
        onFileError: (src, e) => {
          const s = summaries.get(src.id ?? '');
          if (s) s.error = e.message;
        },
      }).pipe(classify(engine, { topK, onFrames: htmlReport?.onFrames }));
      const stdoutSink = !sink ? openStdoutSink(format) : undefined;
      await lastValueFrom(
        predictions.pipe(
          tap((p) => {
            const s = summaries.get(p.streamId)!;
            s.frames++;
            s.firstAt ??= Date.now();
            s.lastAt = Date.now();
            s.top1.set(p.top[0].label, (s.top1.get(p.top[0].label) ?? 0) + 1);
            board.update(p.streamId, s.frames);
            htmlReport?.add(p);
          }),
          mergeMap((p) => from((sink ?? stdoutSink!).write(p)), 1),
        ),
        { defaultValue: undefined },
      );
      await (sink ?? stdoutSink!).close();
      await htmlReport?.write([...summaries.values()]);
      // The rate covers decoding, inference and writing, not the engine's teardown below.
      t1 = Date.now();
    } finally {
      for (const s of summaries.values())
        board.finish(s.id, s.error ? `FAILED: ${s.error.split('\n')[0]}` : `${s.frames} frames`);
      board.stop();
      await engine.close();
    }
    const seconds = ((t1 ?? Date.now()) - t0) / 1000;
    const rows = [...summaries.values()].map((s) => [
      s.file,
      s.error ? 'failed' : 'ok',
      s.frames,
      (s.frames / seconds).toFixed(1),
      [...s.top1]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 3)
        .map(([l, n]) => `${l} (${((100 * n) / Math.max(1, s.frames)).toFixed(0)}%)`)
        .join(', '),
    ]);
    const total = [...summaries.values()].reduce((a, s) => a + s.frames, 0);
    const report = `${formatTable(['file', 'status', 'frames', 'fps', 'most frequent top-1'], rows)}\n${total} frames in ${seconds.toFixed(1)} s (${(total / seconds).toFixed(1)} frames/s)\n`;
    (sink ? process.stdout : process.stderr).write(report);
    const failed = [...summaries.values()].filter((s) => s.error);
    if (failed.length > 0) {
      for (const s of failed) process.stderr.write(`vitstream: ${s.file}: ${s.error}\n`);
      process.exitCode = 1;
    }
  });
}

function parseSample(f: ClassifyFlags): SampleOptions | undefined {
  if (f.every && f.fps)
    throw new InputError('--every and --fps are alternatives: give one', { input: '--every/--fps' });
  if (f.every) return { every: parsePositiveInt(f.every, '--every') };
  if (f.fps) {
    const fps = Number(f.fps);
    if (!(fps > 0))
      throw new InputError(`--fps: expected a positive number, got "${f.fps}"`, { input: '--fps' });
    return { fps };
  }
  return undefined;
}

function estimateSampled(frames: number, fps: number | undefined, s: SampleOptions): number {
  if ('every' in s) return Math.ceil(frames / s.every);
  return fps ? Math.ceil((frames / fps) * s.fps) : frames;
}

function openStdoutSink(format: FileFormat) {
  return openPredictionStream(process.stdout, format, 'stdout');
}
