/**
 * Classify every video in a folder and write one prediction per sampled frame to a JSONL file.
 *
 *   node dist/examples/classify-folder.js <folder> [--out predictions.jsonl] [--fps 1]
 *     [--model vit-b16-224 | config.json] [--weights file.npz|.safetensors] [--top-k 5]
 *
 * Uses the library the way `vitstream classify` does: openEngine -> fileBatch -> classify -> file sink.
 * Files are decoded two at a time and never lose a frame (ffmpeg is paused when the engine is behind).
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { concatMap, lastValueFrom, tap } from 'rxjs';
import { classify, fileBatch, openEngine, openPredictionFile, type SampleOptions } from '../src/index.js';

const VIDEO = /\.(mp4|m4v|mov|mkv|webm|avi|ts|mpg|mpeg)$/i;

const USAGE =
  'usage: classify-folder <folder> [--out predictions.jsonl] [--fps 1] [--model m] [--weights w] [--top-k 5]';
/** Bad input is one line and the usage, not a stack trace. */
function fail(problem: string): never {
  console.error(`classify-folder: ${problem}\n${USAGE}`);
  process.exit(2);
}
const parseCommandLine = () =>
  parseArgs({
    allowPositionals: true,
    options: {
      out: { type: 'string', default: 'predictions.jsonl' },
      fps: { type: 'string', default: '1' },
      model: { type: 'string' },
      weights: { type: 'string' },
      'top-k': { type: 'string', default: '5' },
      help: { type: 'boolean', short: 'h' },
    },
  });
let parsed: ReturnType<typeof parseCommandLine>;
try {
  parsed = parseCommandLine();
} catch (e) {
  fail((e as Error).message);
}
const { values, positionals } = parsed;
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const folder = positionals[0];
if (!folder) fail('missing <folder>');
if (!(Number(values.fps) > 0)) fail(`--fps: expected a positive number, got "${values.fps}"`);
const topK = Number(values['top-k']);
if (!(Number.isInteger(topK) && topK > 0))
  fail(`--top-k: expected a positive integer, got "${values['top-k']}"`);

const files = (await readdir(folder).catch((e: Error) => fail(`cannot read folder ${folder}: ${e.message}`)))
  .filter((n) => VIDEO.test(n))
  .sort()
  .map((n) => path.join(folder, n));
if (files.length === 0) {
  console.error(`no videos in ${folder}`);
  process.exit(1);
}

const engine = await openEngine({ model: values.model, weights: values.weights, maxBatch: 32 }).catch(
  (e: Error) => fail(e.message),
);
let sink: ReturnType<typeof openPredictionFile>;
try {
  sink = openPredictionFile(values.out!);
} catch (e) {
  await engine.close();
  fail((e as Error).message);
}
const sample: SampleOptions = { fps: Number(values.fps) };
const counts = new Map(files.map((f) => [path.basename(f), 0]));
const failed = new Map<string, string>();
const started = Date.now();

try {
  const predictions = fileBatch(
    files.map((f) => ({ id: path.basename(f), path: f })),
    {
      size: engine.config.imageSize,
      maxBatch: engine.maxBatch,
      sample,
      // Without this the first bad file would end the whole run.
      onFileError: (src, e) => failed.set(src.id ?? String(src.path), e.message),
    },
  ).pipe(classify(engine, { topK }));
  await lastValueFrom(
    predictions.pipe(
      tap((p) => counts.set(p.streamId, (counts.get(p.streamId) ?? 0) + 1)),
      // One write at a time: the sink's promise carries the file's backpressure upstream.
      concatMap((p) => sink.write(p)),
    ),
    { defaultValue: undefined },
  );
} finally {
  await sink.close();
  await engine.close();
}

const total = [...counts.values()].reduce((a, b) => a + b, 0);
for (const [file, n] of counts)
  console.log(`${file}: ${failed.has(file) ? `FAILED (${failed.get(file)})` : `${n} frames`}`);
console.log(`${total} predictions in ${((Date.now() - started) / 1000).toFixed(1)} s -> ${values.out}`);
process.exitCode = failed.size > 0 ? 1 : 0;
