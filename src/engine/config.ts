import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError } from '../errors.js';

/**
 * A Vision Transformer's shape and numerics. Field names follow the fixtures' and Google's
 * config.json (snake_case) on disk; in code they are camelCase.
 */
export interface ViTConfig {
  name: string;
  imageSize: number;
  patchSize: number;
  hiddenSize: number;
  numHeads: number;
  numLayers: number;
  mlpDim: number;
  numClasses: number;
  /** `token`: the class token feeds the head; `gap`: the mean of the patch tokens does (no class token). */
  classifier: 'token' | 'gap';
  /** LayerNorm before the head (Google's `encoder_norm`); some checkpoints have none. */
  finalNorm: boolean;
  layerNormEps: number;
  mean: [number, number, number];
  std: [number, number, number];
  activation: 'gelu_erf' | 'gelu_tanh';
  qkvBias: boolean;
  labels?: string[];
}

const positiveInt = z.number().int().positive();
const rgbTriple = z.tuple([z.number().finite(), z.number().finite(), z.number().finite()]);

/**
 * Upper bounds on every dimension: well above every ViT in the catalogue (ViT-L/16 at 384: hidden
 * 1024, 24 layers, mlp 4096, 16 heads, 576 patches, 1000 classes), and low enough that a typo or a
 * hostile file fails here instead of exhausting memory while the engine is planned.
 */
export const CONFIG_LIMITS = {
  image_size: 1024,
  patch_size: 64,
  hidden_size: 8192,
  num_heads: 256,
  num_layers: 64,
  mlp_dim: 65536,
  num_classes: 100_000,
  /** Patches per image ((image / patch)²): attention holds tokens² scores per head. */
  patches: 4096,
} as const;
const upTo = (key: keyof typeof CONFIG_LIMITS) =>
  positiveInt.max(CONFIG_LIMITS[key], `at most ${CONFIG_LIMITS[key]}`);

/** The on-disk form (snake_case, as in the fixtures' config.json); camelCase keys are accepted too. */
const configFileSchema = z
  .object({
    name: z.string().default('custom'),
    image_size: upTo('image_size'),
    patch_size: upTo('patch_size'),
    hidden_size: upTo('hidden_size'),
    num_heads: upTo('num_heads'),
    num_layers: upTo('num_layers'),
    mlp_dim: upTo('mlp_dim'),
    num_classes: upTo('num_classes'),
    classifier: z.enum(['token', 'gap']).default('token'),
    final_norm: z.boolean().default(true),
    layer_norm_eps: z.number().positive().max(1).default(1e-6),
    mean: rgbTriple.default([0.5, 0.5, 0.5]),
    std: rgbTriple.refine((s) => s.every((v) => v > 0), 'std values must be > 0').default([0.5, 0.5, 0.5]),
    activation: z.enum(['gelu_erf', 'gelu_tanh']).default('gelu_erf'),
    qkv_bias: z.boolean().default(true),
    labels: z.array(z.string()).optional(),
  })
  .superRefine((c, ctx) => {
    if (c.image_size % c.patch_size !== 0)
      ctx.addIssue({
        code: 'custom',
        path: ['patch_size'],
        message: `image_size ${c.image_size} is not a multiple of patch_size ${c.patch_size}`,
      });
    const patches = (c.image_size / c.patch_size) ** 2;
    if (patches > CONFIG_LIMITS.patches)
      ctx.addIssue({
        code: 'custom',
        path: ['patch_size'],
        message: `image_size ${c.image_size} in patches of ${c.patch_size} makes ${Math.floor(patches)} patches, at most ${CONFIG_LIMITS.patches}`,
      });
    if (c.hidden_size % c.num_heads !== 0)
      ctx.addIssue({
        code: 'custom',
        path: ['num_heads'],
        message: `hidden_size ${c.hidden_size} is not divisible by num_heads ${c.num_heads}`,
      });
    if (c.labels && c.labels.length !== c.num_classes)
      ctx.addIssue({
        code: 'custom',
        path: ['labels'],
        message: `${c.labels.length} labels given for ${c.num_classes} classes`,
      });
  });

const camelToSnake = (k: string) => k.replace(/[A-Z]/g, (m) => `_${m.toLowerCase()}`);

/** Validates a parsed config object; `source` names it in errors (a file path or preset name). */
export function parseViTConfig(raw: unknown, source = 'model config'): ViTConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new ConfigError(`${source}: expected a JSON object with image_size, patch_size, hidden_size, ...`, {
      input: source,
    });
  const snake: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) snake[camelToSnake(k)] = v;
  const r = configFileSchema.safeParse(snake);
  if (!r.success) {
    // One line (the CLI's errors are), at most five problems: a hostile file can have thousands.
    const problems = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    const shown =
      problems.slice(0, 5).join('; ') + (problems.length > 5 ? `; and ${problems.length - 5} more` : '');
    throw new ConfigError(`${source}: invalid model config: ${shown}`, { input: source });
  }
  const c = r.data;
  return {
    name: c.name,
    imageSize: c.image_size,
    patchSize: c.patch_size,
    hiddenSize: c.hidden_size,
    numHeads: c.num_heads,
    numLayers: c.num_layers,
    mlpDim: c.mlp_dim,
    numClasses: c.num_classes,
    classifier: c.classifier,
    finalNorm: c.final_norm,
    layerNormEps: c.layer_norm_eps,
    mean: c.mean,
    std: c.std,
    activation: c.activation,
    qkvBias: c.qkv_bias,
    labels: c.labels,
  };
}

export function readViTConfigFile(file: string): ViTConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`${file}: cannot read model config (${(e as Error).message})`, {
      input: file,
      cause: e,
    });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${file}: not valid JSON (${(e as Error).message})`, { input: file, cause: e });
  }
  return parseViTConfig(raw, file);
}

/** Derived sizes used everywhere: patches per side, tokens, head size. */
export function vitDims(c: ViTConfig) {
  const grid = c.imageSize / c.patchSize;
  const numPatches = grid * grid;
  const tokens = numPatches + (c.classifier === 'token' ? 1 : 0);
  return {
    grid,
    numPatches,
    tokens,
    headDim: c.hiddenSize / c.numHeads,
    patchDim: c.patchSize * c.patchSize * 3,
  };
}
