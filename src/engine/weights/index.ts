import { open, stat } from 'node:fs/promises';
import { WeightsFormatError } from '../../errors.js';
import { type Logger, silentLogger } from '../../util/logger.js';
import { parseViTConfig, type ViTConfig } from '../config.js';
import type { BlockWeights, Tensor, ViTWeights } from '../types.js';
import { detectLayout, type Field, type LayoutPlan, planFor } from './layouts.js';
import { openNpz } from './npz.js';
import { openSafetensors } from './safetensors.js';
import { fmtShape, numel, type TensorSource } from './source.js';

export { openNpz } from './npz.js';
export { openSafetensors } from './safetensors.js';
export type { TensorSource } from './source.js';

/** Opens a weights file as npz or safetensors, chosen by its first bytes (not its name). */
export async function openTensorSource(file: string): Promise<TensorSource> {
  let size: number;
  try {
    const st = await stat(file);
    // A device (/dev/zero) or a FIFO never ends: reading one as weights would never finish.
    if (!st.isFile())
      throw new WeightsFormatError(
        `${file}: ${st.isDirectory() ? 'a folder' : 'not a regular file'}; expected a .npz or .safetensors checkpoint`,
        { input: file },
      );
    size = st.size;
  } catch (e) {
    if (e instanceof WeightsFormatError) throw e;
    throw new WeightsFormatError(`${file}: cannot open weights file (${(e as Error).message})`, {
      input: file,
      cause: e,
    });
  }
  if (size === 0)
    throw new WeightsFormatError(
      `${file}: empty file (0 bytes); expected a .npz or .safetensors checkpoint`,
      { input: file },
    );
  const head = Buffer.alloc(Math.min(size, 16));
  const fh = await open(file, 'r');
  try {
    await fh.read(head, 0, head.length, 0);
  } finally {
    await fh.close();
  }
  // Zip local file header, or the end record of an empty zip.
  if (
    head[0] === 0x50 &&
    head[1] === 0x4b &&
    ((head[2] === 3 && head[3] === 4) || (head[2] === 5 && head[3] === 6))
  )
    return openNpz(file);
  // safetensors: u64 header length, then the JSON header's opening brace.
  if (head.length > 8 && head[8] === 0x7b) return openSafetensors(file);
  throw new WeightsFormatError(
    `${file}: neither an npz (zip) archive nor a safetensors file (first bytes ${head.subarray(0, 8).toString('hex')})`,
    { input: file },
  );
}

function planForSource(src: TensorSource, config: ViTConfig): LayoutPlan {
  const detected = detectLayout(src.names);
  if (!detected) {
    const sample = src.names
      .slice(0, 5)
      .map((n) => `'${n}'`)
      .join(', ');
    throw new WeightsFormatError(
      `${src.file}: tensor names match no known ViT layout (Google 'embedding/kernel', timm 'patch_embed.proj.weight' or Hugging Face '...embeddings.patch_embeddings.projection.weight' expected); found ${src.names.length} tensors: ${sample}${src.names.length > 5 ? ', ...' : ''}`,
      { input: src.file },
    );
  }
  return planFor(detected.layout, detected.prefix, config);
}

const fieldsOf = (plan: LayoutPlan): Field[] => [
  ...Object.values(plan.top),
  ...plan.blocks.flatMap((b) => Object.values(b) as Field[]),
];

/** Checks every stored tensor the plan needs against the config before any data is read. */
function validate(src: TensorSource, plan: LayoutPlan, config: ViTConfig): void {
  const problems: string[] = [];
  for (const field of fieldsOf(plan)) {
    for (const part of field.parts) {
      const found = src.shape(part.name);
      if (found === undefined)
        problems.push(`tensor '${part.name}' missing (expected shape ${fmtShape(part.shape)})`);
      else if (found.length !== part.shape.length || found.some((d, i) => d !== part.shape[i]))
        problems.push(
          `tensor '${part.name}': expected shape ${fmtShape(part.shape)}, found ${fmtShape(found)}`,
        );
    }
  }
  for (const u of plan.unsupported)
    if (src.shape(u.name) !== undefined) problems.push(`tensor '${u.name}' found: ${u.why} is not supported`);
  if (problems.length === 0) return;
  const shown = problems.slice(0, 8);
  if (problems.length > shown.length) shown.push(`... and ${problems.length - shown.length} more`);
  try {
    const c = inferFromSource(src, 'inferred');
    shown.push(
      `the file looks like: image ${c.imageSize}, patch ${c.patchSize}, hidden ${c.hiddenSize}, ${c.numLayers} layers, mlp ${c.mlpDim}, ${c.numClasses} classes, ${c.classifier} pooling${c.finalNorm ? '' : ', no final norm'}`,
    );
  } catch {
    // A file too broken to describe: the problems above say enough.
  }
  throw new WeightsFormatError(
    `${src.file}: ${plan.layout} ${src.format} weights do not fit model '${config.name}' (hidden ${config.hiddenSize}, ${config.numLayers} layers, ${config.numHeads} heads, mlp ${config.mlpDim}, patch ${config.patchSize}, image ${config.imageSize}, ${config.numClasses} classes):\n  ${shown.join('\n  ')}`,
    { input: src.file },
  );
}

async function build(src: TensorSource, field: Field): Promise<Tensor> {
  const parts: Float32Array[] = [];
  for (const p of field.parts) parts.push(await src.read(p.name));
  const data = field.combine(parts);
  if (data.length !== numel(field.shape))
    throw new WeightsFormatError(
      `${src.file}: '${field.parts[0]?.name}' gave ${data.length} values, ${fmtShape(field.shape)} expected`,
      {
        input: src.file,
      },
    );
  return { data, shape: field.shape };
}

/**
 * Loads a checkpoint (Google `.npz`, timm or Hugging Face `.safetensors`) into the engine's
 * canonical layout (see ViTWeights), after checking every tensor's shape against `config`.
 * Tensors the config does not use (a final norm the config turns off, optimiser state) are
 * ignored. Errors are WeightsFormatError naming the file, the tensor, expected and found.
 */
export async function loadWeights(
  file: string,
  config: ViTConfig,
  log: Logger = silentLogger,
): Promise<ViTWeights> {
  const src = await openTensorSource(file);
  try {
    const plan = planForSource(src, config);
    validate(src, plan, config);
    log.debug(
      { file, layout: plan.layout, format: src.format, tensors: src.names.length },
      'loading weights',
    );
    const top: Partial<Record<keyof typeof plan.top, Tensor>> = {};
    for (const [key, field] of Object.entries(plan.top))
      top[key as keyof typeof plan.top] = await build(src, field);
    const blocks: BlockWeights[] = [];
    for (const b of plan.blocks) {
      const out: Partial<BlockWeights> = {};
      for (const [key, field] of Object.entries(b)) out[key as keyof BlockWeights] = await build(src, field);
      blocks.push(out as BlockWeights);
    }
    return { ...(top as Omit<ViTWeights, 'blocks'>), blocks };
  } finally {
    await src.close();
  }
}

/** Published ViTs: Ti 192/3, S 384/6, B 768/12, L 1024/16, H 1280/16; otherwise 64-wide heads. */
function headsForWidth(d: number): number {
  const known: Record<number, number> = { 192: 3, 384: 6, 768: 12, 1024: 16, 1280: 16 };
  return known[d] ?? (d % 64 === 0 ? d / 64 : 1);
}

/**
 * Guesses a model config from a checkpoint's tensor shapes, for `--weights` without `--model`.
 * Sizes, layers, classes, pooling and final norm come from the file; the head count comes from
 * Google's [D, H, hd] kernels, or is that of the published ViT of that width for timm and Hugging Face;
 * normalisation and activation are Google ViT's (mean = std = 0.5, exact GELU).
 */
export async function inferConfigFromWeights(file: string, name = 'inferred'): Promise<ViTConfig> {
  const src = await openTensorSource(file);
  try {
    return inferFromSource(src, name);
  } finally {
    await src.close();
  }
}

function inferFromSource(src: TensorSource, name: string): ViTConfig {
  const file = src.file;
  const detected = detectLayout(src.names);
  const fail = (what: string): never => {
    throw new WeightsFormatError(`${file}: cannot infer the model config: ${what}`, { input: file });
  };
  if (!detected) return fail('tensor names match no known ViT layout');
  const s = (n: string) => src.shape(n) ?? fail(`tensor '${n}' missing`);
  const has = (n: string) => src.shape(n) !== undefined;
  const countLayers = (re: RegExp) =>
    new Set(src.names.map((n) => re.exec(n)?.[1]).filter((x) => x !== undefined)).size;
  let D: number,
    P: number,
    T: number,
    layers: number,
    heads: number,
    mlp: number,
    classes: number,
    cls: boolean,
    norm: boolean;
  const p = detected.prefix;
  if (detected.layout === 'google') {
    [P, , , D] = s('embedding/kernel');
    T = s('Transformer/posembed_input/pos_embedding')[1];
    layers = countLayers(/^Transformer\/encoderblock_(\d+)\//);
    heads = s('Transformer/encoderblock_0/MultiHeadDotProductAttention_1/query/kernel')[1];
    mlp = s('Transformer/encoderblock_0/MlpBlock_3/Dense_0/kernel')[1];
    classes = s('head/kernel')[1];
    cls = has('cls');
    norm = has('Transformer/encoder_norm/scale');
  } else if (detected.layout === 'timm') {
    [D, , P] = s('patch_embed.proj.weight');
    T = s('pos_embed')[1];
    layers = countLayers(/^blocks\.(\d+)\./);
    heads = headsForWidth(D);
    mlp = s('blocks.0.mlp.fc1.weight')[0];
    classes = s('head.weight')[0];
    cls = has('cls_token');
    norm = has('norm.weight');
  } else {
    [D, , P] = s(`${p}embeddings.patch_embeddings.projection.weight`);
    T = s(`${p}embeddings.position_embeddings`)[1];
    layers = countLayers(/encoder\.layer\.(\d+)\./);
    heads = headsForWidth(D);
    mlp = s(`${p}encoder.layer.0.intermediate.dense.weight`)[0];
    classes = s('classifier.weight')[0];
    cls = has(`${p}embeddings.cls_token`);
    norm = has(`${p}layernorm.weight`);
  }
  const grid = Math.round(Math.sqrt(T - (cls ? 1 : 0)));
  if (grid * grid !== T - (cls ? 1 : 0))
    fail(`position embedding of ${T} tokens is not a square grid${cls ? ' plus a class token' : ''}`);
  return parseViTConfig(
    {
      name,
      image_size: grid * P,
      patch_size: P,
      hidden_size: D,
      num_heads: heads,
      num_layers: layers,
      mlp_dim: mlp,
      num_classes: classes,
      classifier: cls ? 'token' : 'gap',
      final_norm: norm,
      layer_norm_eps: detected.layout === 'hf' ? 1e-12 : 1e-6,
    },
    `config inferred from ${file}`,
  );
}
