import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { readViTConfigFile, type ViTConfig } from '../engine/config.js';
import { ConfigError } from '../errors.js';
import { packageRoot } from '../util/paths.js';

/**
 * The ImageNet-1k ViTs FasterTransformer's ViT example covers (Google's checkpoints: mean =
 * std = 0.5, LayerNorm eps 1e-6, exact GELU, class token). Each is `config/models/<name>.json`,
 * in the same format a user's own config.json uses.
 */
export const PRESET_NAMES = [
  'vit-b16-224',
  'vit-b16-384',
  'vit-b32-224',
  'vit-b32-384',
  'vit-l16-224',
  'vit-l16-384',
  'vit-l32-224',
  'vit-l32-384',
] as const;

export type PresetName = (typeof PRESET_NAMES)[number];

export const isPreset = (name: string): name is PresetName =>
  (PRESET_NAMES as readonly string[]).includes(name);

export function presetPath(name: PresetName): string {
  return path.join(packageRoot(), 'config', 'models', `${name}.json`);
}

/** The 1000 ImageNet-1k class names, index i = class i (data/imagenet-classes.txt). */
export function imagenetLabels(): string[] {
  const file = path.join(packageRoot(), 'data', 'imagenet-classes.txt');
  const labels = readFileSync(file, 'utf8').split('\n');
  if (labels.at(-1) === '') labels.pop();
  if (labels.length !== 1000)
    throw new ConfigError(`${file}: ${labels.length} class names, 1000 expected`, { input: file });
  return labels;
}

/** A preset's config, with the ImageNet-1k labels attached. */
export function loadPreset(name: PresetName): ViTConfig {
  const config = readViTConfigFile(presetPath(name));
  return { ...config, labels: config.labels ?? imagenetLabels() };
}

/**
 * A model named by the user: a preset name, a path to a config.json, or a folder holding
 * one (as a downloaded checkpoint folder does).
 */
export function resolveModel(nameOrPath: string): ViTConfig {
  if (isPreset(nameOrPath)) return loadPreset(nameOrPath);
  if (existsSync(nameOrPath)) {
    const file = statSync(nameOrPath).isDirectory() ? path.join(nameOrPath, 'config.json') : nameOrPath;
    if (!existsSync(file))
      throw new ConfigError(
        `${nameOrPath}: folder has no config.json (a model preset or a model config file expected)`,
        {
          input: nameOrPath,
        },
      );
    return readViTConfigFile(file);
  }
  throw new ConfigError(
    `unknown model '${nameOrPath}': neither a preset (${PRESET_NAMES.join(', ')}) nor an existing config.json file`,
    { input: nameOrPath },
  );
}
