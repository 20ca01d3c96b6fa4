import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { lastValueFrom, toArray } from 'rxjs';
import { topK } from '../../engine/postprocess.js';
import type { Engine, EngineInput } from '../../engine/types.js';
import { InputError } from '../../errors.js';
import { type NpyArray, readNpy, writeNpy } from '../../util/npy.js';
import { checkWritable } from '../../util/output-file.js';
import { RESIZE_MODES, type ResizeMode } from '../../video/args.js';
import { decodeFrames } from '../../video/decodeFrames.js';
import { addEngineOptions, type EngineFlags, openEngineFromFlags } from '../engine-options.js';
import { parseChoice, parsePositiveInt } from '../options.js';

interface InferFlags extends EngineFlags {
  input: string[];
  out?: string;
  topK: string;
  resize: string;
  json?: boolean;
}

export function registerInfer(program: Command): void {
  const cmd = program
    .command('infer')
    .description("the engine's plain door: images or tensors in, top-k and logits out")
    .requiredOption(
      '--input <files...>',
      'PNG/JPEG images, or a .npy of uint8 RGB [N,H,W,3] or float32 pixel values [N,3,H,W]',
    )
    .option('--out <logits.npy>', 'write the logits [N, classes] as float32 .npy')
    .option('--top-k <k>', 'classes shown per image', '5')
    .option(
      '--resize <mode>',
      'how images are fitted to the model: squash, center-crop or letterbox',
      'squash',
    )
    .option('--json', 'print JSON');
  addEngineOptions(cmd, { maxBatch: 8 }).action(async (f: InferFlags) => {
    const k = parsePositiveInt(f.topK, '--top-k');
    const resize = parseChoice(f.resize, '--resize', RESIZE_MODES);
    for (const file of f.input)
      if (!existsSync(file)) throw new InputError(`--input ${file}: no such file`, { input: file });
    if (f.out) checkWritable(f.out, 'logits');
    // Arrays are read and checked before the model loads: a broken or empty .npy costs nothing.
    const arrays = new Map<string, NpyArray>();
    for (const file of f.input) if (file.endsWith('.npy')) arrays.set(file, readImageArray(file));
    const engine = await openEngineFromFlags(f, program.opts().logLevel);
    try {
      const items: { name: string; input: EngineInput }[] = [];
      for (const file of f.input) items.push(...(await readInputs(file, arrays.get(file), engine, resize)));
      const C = engine.config.numClasses;
      const logits = new Float32Array(items.reduce((n, it) => n + it.input.count, 0) * C);
      // Each input file keeps its own batches, cut to the engine's max batch.
      let row = 0;
      for (const { input } of items) {
        for (let start = 0; start < input.count; start += engine.maxBatch) {
          const count = Math.min(engine.maxBatch, input.count - start);
          const per = engine.config.imageSize * engine.config.imageSize * 3;
          const chunk: EngineInput =
            input.kind === 'pixels'
              ? { kind: 'pixels', data: input.data.subarray(start * per, (start + count) * per), count }
              : { kind: 'rgb', data: input.data.subarray(start * per, (start + count) * per), count };
          logits.set(await engine.infer(chunk), row * C);
          row += count;
        }
      }
      const names = items.flatMap(({ name, input }) =>
        input.count === 1 ? [name] : Array.from({ length: input.count }, (_, i) => `${name}[${i}]`),
      );
      const results = names.map((name, i) => ({
        input: name,
        top: topK(logits, k, engine.config.labels, i * C, C),
      }));
      if (f.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
      else
        for (const r of results)
          process.stdout.write(
            `${r.input}\n${r.top.map((t) => `  ${(t.score * 100).toFixed(2).padStart(6)}%  ${t.label} (${t.index})`).join('\n')}\n`,
          );
      if (f.out) writeNpy(f.out, logits, [names.length, C]);
    } finally {
      await engine.close();
    }
  });
}

/** A .npy of images: one image at least, along the first axis. */
function readImageArray(file: string): NpyArray {
  const a = readNpy(file);
  if (a.shape.length > 1 && a.shape[0] === 0)
    throw new InputError(`${file}: no images (shape [${a.shape.join(', ')}])`, { input: file });
  return a;
}

async function readInputs(
  file: string,
  a: NpyArray | undefined,
  engine: Engine,
  resize: ResizeMode,
): Promise<{ name: string; input: EngineInput }[]> {
  const S = engine.config.imageSize;
  if (a) {
    const [n, ...rest] = a.shape;
    if (a.dtype === 'uint8' && rest.join() === `${S},${S},3`)
      return [{ name: file, input: { kind: 'rgb', data: a.data as Uint8Array, count: n } }];
    if (a.dtype === 'float32' && rest.join() === `3,${S},${S}`)
      return [{ name: file, input: { kind: 'pixels', data: a.data as Float32Array, count: n } }];
    throw new InputError(
      `${file}: expected uint8 [N, ${S}, ${S}, 3] (RGB frames) or float32 [N, 3, ${S}, ${S}] (pixel values) for model ${engine.config.name}, found ${a.dtype} [${a.shape.join(', ')}]`,
      { input: file },
    );
  }
  // Images go through ffmpeg like video frames, so resizing is the same in infer and classify.
  const frames = await lastValueFrom(
    decodeFrames({ path: file, kind: 'file' }, { size: S, resize }).pipe(toArray()),
  ).catch((e: Error) => {
    throw new InputError(`${file}: not a readable image (${e.message})`, { input: file, cause: e });
  });
  if (frames.length === 0) throw new InputError(`${file}: no image in it`, { input: file });
  const data = new Uint8Array(S * S * 3);
  data.set(frames[0].rgb.subarray(0, data.length));
  return [{ name: file, input: { kind: 'rgb', data, count: 1 } }];
}
