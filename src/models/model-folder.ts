import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { InputError } from '../errors.js';
import { findCheckpoint } from './catalog.js';
import { isPreset } from './presets.js';

const WEIGHTS_FILE = /\.(safetensors|npz)$/i;

/**
 * The weights file that sits beside a model's config.json, so that a checkpoint folder (the Hugging Face
 * and timm layout: config.json beside model.safetensors) needs no `--weights`. `model.safetensors` wins;
 * otherwise the folder's only .safetensors or .npz file. undefined for a preset, or a folder without one;
 * several candidates are an error, since picking one would be a guess.
 */
export function weightsBesideModel(model: string): string | undefined {
  if (isPreset(model) || !existsSync(model)) return undefined;
  const dir = folderOf(model);
  // stat, not the directory entry: a Hugging Face cache snapshot is a folder of symbolic links.
  const files = readdirSync(dir)
    .filter(
      (name) =>
        WEIGHTS_FILE.test(name) && statSync(path.join(dir, name), { throwIfNoEntry: false })?.isFile(),
    )
    .sort();
  if (files.includes('model.safetensors')) return path.join(dir, 'model.safetensors');
  if (files.length === 1) return path.join(dir, files[0]!);
  if (files.length > 1)
    throw new InputError(
      `model '${model}': its folder ${dir} holds several weights files (${files.join(', ')}); choose one with --weights`,
      { input: model },
    );
  return undefined;
}

/**
 * What to load when the user named a model but no weights: the file beside its config, else the
 * checkpoint its name stands for (a preset's default, downloaded on first use). A model config whose
 * folder has no weights and whose name is no checkpoint is an error naming both, not an "unknown
 * weights" error about a name the user never typed.
 */
export function defaultWeightsSpec(model: string | undefined, configName: string): string {
  if (model === undefined || isPreset(model)) return configName;
  const beside = weightsBesideModel(model);
  if (beside) return beside;
  if (isPreset(configName) || findCheckpoint(configName)) return configName;
  const dir = folderOf(model);
  throw new InputError(
    `model '${model}' has no weights: no .safetensors or .npz file in ${dir}, and its name '${configName}' is not a downloadable checkpoint; pass --weights FILE`,
    { input: model },
  );
}

/** The folder a model names: itself, or the one holding its config file. */
function folderOf(model: string): string {
  return statSync(model, { throwIfNoEntry: false })?.isDirectory() ? model : path.dirname(model);
}
