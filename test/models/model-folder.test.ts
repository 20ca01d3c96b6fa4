import { mkdtemp, rm, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openEngine } from '../../src/app/open-engine.js';
import { InputError } from '../../src/errors.js';
import { defaultWeightsSpec, weightsBesideModel } from '../../src/models/model-folder.js';
import { readNpy } from '../../src/util/npy.js';
import { relMaxError } from '../helpers/compare.js';
import { sharedPath } from '../helpers/shared.js';

const CIFAR = sharedPath('models', 'vit-cifar10-demo');
const TINY = (f: string) => sharedPath('fixtures', 'vit-tiny-test', f);

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'vitstream-model-folder-'));
});
afterEach(async () => rm(dir, { recursive: true, force: true }));

/** A checkpoint folder made of links to the fixture's files, named as a user's folder would name them. */
async function folder(files: Record<string, string>): Promise<string> {
  for (const [name, target] of Object.entries(files)) await symlink(target, path.join(dir, name));
  return dir;
}

describe('weights beside the model config', () => {
  it("finds a Hugging Face folder's model.safetensors, from the folder or its config.json", () => {
    expect(weightsBesideModel(CIFAR)).toBe(path.join(CIFAR, 'model.safetensors'));
    expect(weightsBesideModel(path.join(CIFAR, 'config.json'))).toBe(path.join(CIFAR, 'model.safetensors'));
  });

  it('leaves presets and folders without weights to the checkpoint catalogue', async () => {
    expect(weightsBesideModel('vit-b16-224')).toBeUndefined();
    expect(defaultWeightsSpec('vit-b16-224', 'vit-b16-224')).toBe('vit-b16-224');
    expect(defaultWeightsSpec(undefined, 'vit-b16-384')).toBe('vit-b16-384');
    const only = await folder({ 'config.json': TINY('config.json') });
    expect(weightsBesideModel(only)).toBeUndefined();
  });

  it('without weights and without a checkpoint name: an error naming the model, its folder and the way out', async () => {
    const only = await folder({ 'config.json': TINY('config.json') });
    const err = (() => {
      try {
        return defaultWeightsSpec(only, 'vit-tiny-test');
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toBe(
      `model '${only}' has no weights: no .safetensors or .npz file in ${only}, and its name 'vit-tiny-test' is not a downloadable checkpoint; pass --weights FILE`,
    );
  });

  it('refuses to guess between several weights files', async () => {
    const two = await folder({
      'config.json': TINY('config.json'),
      'a.npz': TINY('weights.npz'),
      'b.safetensors': TINY('weights.safetensors'),
    });
    expect(() => weightsBesideModel(two)).toThrow(InputError);
    expect(() => weightsBesideModel(two)).toThrow(
      `model '${two}': its folder ${two} holds several weights files (a.npz, b.safetensors); choose one with --weights`,
    );
  });

  it('openEngine on a folder with a lone .npz loads it: the golden logits', async () => {
    const model = await folder({ 'config.json': TINY('config.json'), 'ViT-tiny.npz': TINY('weights.npz') });
    const engine = await openEngine({ model, backend: 'cpu' });
    try {
      const rgb = readNpy(TINY('rgb.npy'));
      const logits = await engine.infer({ kind: 'rgb', data: rgb.data as Uint8Array, count: rgb.shape[0]! });
      expect(relMaxError(logits, readNpy(TINY('logits.npy')).data as Float32Array)).toBeLessThan(1e-4);
    } finally {
      await engine.close();
    }
  });
});
