import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { from, lastValueFrom, mergeMap, tap } from 'rxjs';
import { fileBatch } from '../../../pipelines/fileBatch.js';
import { InputError } from '../../errors.js';
import { engineBeginBatch } from '../../operators/batchFrames.js';
import { classify } from '../../operators/classify.js';
import type { SampleOptions } from '../../operators/sampleFrames.js';
import { type FileFormat, openPredictionFile, openPredictionStream } from '../../sinks/file.js';
import { openReport } from '../../sinks/report.js';
import { isOneOf } from '../../util/one-of.js';
import { formatTable } from '../../util/table.js';
import { RESIZE_MODES, type ResizeMode } from '../../video/args.js';
import { type FfmpegHandle, resolveFfmpeg } from '../../video/ffmpeg.js';
import { keyframesSuffice, probeKeyframeRate } from '../../video/keyframeRate.js';
import { probeMedia } from '../../video/probe.js';
import { detectKind } from '../../video/source.js';
import { addDecodeOptions, type DecodeFlags, defaultDecoders, parseDecodeFlags } from '../decode-options.js';
import { addEngineOptions, type EngineFlags, openEngineFromFlags } from '../engine-options.js';
import { INPUT_PATH_HELP, parseInputPath, parsePositiveInt } from '../options.js';
import { progressBoard } from '../progress.js';
import { parseSample } from '../sample-options.js';

interface ClassifyFlags extends EngineFlags, DecodeFlags {
  every?: string;
  fps?: string;
  out?: string;
  format?: string;
  topK: string;
  resize: string;
  report?: string;
  inputPath: string;
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
    .option('--report <file>', 'also write a self-contained HTML report: timeline, thumbnails, summary')
    .option('--input-path <path>', INPUT_PATH_HELP, 'direct');
  addEngineOptions(addDecodeOptions(cmd)).action(async (files: string[], f: ClassifyFlags) => {
    const sample = parseSample(f);
    const decode = parseDecodeFlags(f);
    const format = (f.format ?? (f.out?.endsWith('.csv') ? 'csv' : 'jsonl')) as FileFormat;
    if (format !== 'jsonl' && format !== 'csv')
      throw new InputError(`--format: expected jsonl or csv, got "${f.format}"`, { input: '--format' });
    if (!isOneOf(RESIZE_MODES, f.resize))
      throw new InputError(`--resize: expected squash, center-crop or letterbox, got "${f.resize}"`, {
        input: '--resize',
      });
    const topK = parsePositiveInt(f.topK, '--top-k');
    const inputPath = parseInputPath(f.inputPath);
    // Inputs and the outputs are checked before the model is loaded (or downloaded): a typo costs nothing.
    const missing = await missingInputs(files);
    if (missing.size === files.length)
      throw new InputError(
        files.length === 1 ? `${files[0]}: no such file` : `no such files: ${files.join(', ')}`,
        { input: files[0] },
      );
    const htmlReport = f.report
      ? openReport(f.report, { title: `vitstream classify ${files.join(' ')}`, model: f.model })
      : undefined;
    // The output is written beside its path and replaces it only when predictions were made.
    const sink = f.out ? openPredictionFile(f.out, format) : undefined;
    const engine = await openEngineFromFlags(f, program.opts().logLevel).catch(async (e: unknown) => {
      await sink?.abort().catch(() => undefined);
      throw e;
    });
    // Stream ids are the paths as given; a file named twice gets a suffix so its counts stay its own.
    const summaries = new Map<string, FileSummary>();
    const sources: { id: string; path: string }[] = [];
    for (const file of files) {
      let id = file;
      for (let n = 2; summaries.has(id); n++) id = `${file}#${n}`;
      summaries.set(id, { id, file, frames: 0, top1: new Map(), error: missing.get(file) });
      if (!missing.has(file)) sources.push({ id, path: file });
    }
    // Probed together, shown in the order given.
    const expected = await Promise.all(
      [...summaries.values()].map(async (s) => {
        // Keyframes only: how many there are is not in the header.
        if (s.error || decode.keyframesOnly === true) return undefined;
        const info = await probeMedia(s.file);
        return info.estimatedFrames && sample
          ? estimateSampled(info.estimatedFrames, info.fps, sample)
          : info.estimatedFrames;
      }),
    );
    const board = progressBoard();
    [...summaries.values()].forEach((s, i) => {
      board.add(s.id, path.basename(s.file), expected[i]);
      if (s.error) board.fail(s.id, s.error);
    });
    const t0 = Date.now();
    let t1: number | undefined;
    let completed = false;
    // Interrupted (Ctrl-C, a service stop): the lines written so far take the file's place, as they
    // did when the file was written in place, instead of staying in the hidden temporary file.
    const onSignal = (signal: NodeJS.Signals) => {
      board.stop();
      void (sink?.abort() ?? Promise.resolve())
        .catch(() => undefined)
        .finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
    };
    if (sink) {
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
    }
    try {
      const ff = await resolveFfmpeg();
      const keyframesOnly = await keyframesOnlyFiles(ff, sources, sample, decode.keyframesOnly);
      const predictions = fileBatch(sources, {
        size: engine.config.imageSize,
        resize: f.resize as ResizeMode,
        hwaccel: decode.hwaccel,
        pixelFormat: decode.pixelFormat,
        decodeFor: (src) => ({ keyframesOnly: keyframesOnly.has(src.id ?? '') }),
        concurrency: decode.decoders ?? (await defaultDecoders(decode.hwaccel, ff)),
        sample,
        maxBatch: engine.maxBatch,
        ...(inputPath === 'direct' && { beginBatch: engineBeginBatch(engine) }),
        onFileError: (src, e) => {
          const s = summaries.get(src.id ?? '');
          if (s) s.error = e.message;
        },
      }).pipe(classify(engine, { topK, keepPixels: htmlReport?.keepPixels }));
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
      completed = true;
      // The rate covers decoding, inference and writing, not the engine's teardown below.
      t1 = Date.now();
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      if (!completed) await sink?.abort().catch(() => undefined);
      for (const s of summaries.values())
        if (s.error) board.fail(s.id, s.error);
        else board.finish(s.id, `${s.frames} frames`);
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

/**
 * The local files and folders among the inputs that do not exist, with the error to show for each.
 * URLs, globs, standard input and devices are left to the decoder.
 */
async function missingInputs(files: string[]): Promise<Map<string, string>> {
  const missing = new Map<string, string>();
  for (const file of files) {
    const kind = detectKind(file);
    if (kind !== 'file' && !(kind === 'images' && file.endsWith('/'))) continue;
    const err = await stat(file).then(
      () => undefined,
      (e: NodeJS.ErrnoException) => e,
    );
    if (err?.code === 'ENOENT' || err?.code === 'ENOTDIR') missing.set(file, 'no such file');
  }
  return missing;
}

/**
 * The ids of the files to decode keyframes only: all of them with --keyframes-only, none with
 * --no-keyframes-only, else the files sampled with --fps at or below their keyframe rate (told on
 * stderr, as the frames then differ from an every-frame decode).
 */
async function keyframesOnlyFiles(
  ff: FfmpegHandle,
  sources: { id: string; path: string }[],
  sample: SampleOptions | undefined,
  asked: boolean | undefined,
): Promise<Set<string>> {
  if (asked !== undefined) return new Set(asked ? sources.map((s) => s.id) : []);
  if (!sample || !('fps' in sample)) return new Set();
  const fps = sample.fps;
  const chosen = new Set<string>();
  for (const s of sources) {
    if (
      detectKind(s.path) !== 'file' ||
      (await stat(s.path).then(
        (st) => st.isDirectory(),
        () => true,
      ))
    )
      continue;
    const rate = await probeKeyframeRate(ff, s.path);
    if (!keyframesSuffice(fps, rate)) continue;
    chosen.add(s.id);
    process.stderr.write(
      `vitstream: ${s.path}: decoding keyframes only (${(rate as number).toFixed(2)} a second cover --fps ${fps}); --no-keyframes-only decodes every frame\n`,
    );
  }
  return chosen;
}

function estimateSampled(frames: number, fps: number | undefined, s: SampleOptions): number {
  if ('every' in s) return Math.ceil(frames / s.every);
  return fps ? Math.ceil((frames / fps) * s.fps) : frames;
}

function openStdoutSink(format: FileFormat) {
  return openPredictionStream(process.stdout, format, 'stdout');
}
