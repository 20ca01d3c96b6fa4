import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { vitDims } from '../../src/engine/config.js';
import { ConfigError } from '../../src/errors.js';
import { imagenetLabels, PRESET_NAMES, presetPath, resolveModel } from '../../src/models/presets.js';
import { packageRoot } from '../../src/util/paths.js';
import { sharedPath } from '../helpers/shared.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'vitstream-presets-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('model presets', () => {
  it('are exactly the files in config/models', () => {
    const files = readdirSync(path.join(packageRoot(), 'config', 'models')).filter((f) =>
      f.endsWith('.json'),
    );
    expect(files.map((f) => f.replace(/\.json$/, '')).sort()).toEqual([...PRESET_NAMES].sort());
  });

  it.each(PRESET_NAMES)('%s validates with the published ViT dimensions', (name) => {
    const c = resolveModel(name);
    const m = /^vit-([bl])(16|32)-(224|384)$/.exec(name)!;
    const [d, heads, layers, mlp] = m[1] === 'b' ? [768, 12, 12, 3072] : [1024, 16, 24, 4096];
    expect([c.name, c.hiddenSize, c.numHeads, c.numLayers, c.mlpDim]).toEqual([name, d, heads, layers, mlp]);
    expect([c.patchSize, c.imageSize]).toEqual([Number(m[2]), Number(m[3])]);
    expect([c.numClasses, c.classifier, c.finalNorm, c.layerNormEps, c.activation]).toEqual([
      1000,
      'token',
      true,
      1e-6,
      'gelu_erf',
    ]);
    expect([c.mean, c.std]).toEqual([
      [0.5, 0.5, 0.5],
      [0.5, 0.5, 0.5],
    ]);
    expect(vitDims(c).tokens).toBe((Number(m[3]) / Number(m[2])) ** 2 + 1);
    expect(c.labels).toHaveLength(1000);
    expect(presetPath(name)).toContain(path.join('config', 'models'));
  });
});

describe('ImageNet labels', () => {
  it('are the shared list of 1000 class names, in order', () => {
    const labels = imagenetLabels();
    const shared = readFileSync(sharedPath('data', 'imagenet-classes.txt'), 'utf8').trimEnd().split('\n');
    expect(labels).toEqual(shared);
    expect(labels).toHaveLength(1000);
  });
});

describe('resolveModel', () => {
  it('reads a config.json by path or by folder', () => {
    const file = sharedPath('models', 'vit-cifar10-demo', 'config.json');
    const byFile = resolveModel(file);
    expect([byFile.name, byFile.hiddenSize, byFile.finalNorm, byFile.activation]).toEqual([
      'vit-cifar10-demo',
      48,
      false,
      'gelu_tanh',
    ]);
    expect(byFile.labels?.[0]).toBe('airplane');
    expect(resolveModel(path.dirname(file))).toEqual(byFile);
  });

  it('names the known presets for an unknown model, and the file for a bad config', () => {
    expect(() => resolveModel('vit-h14-224')).toThrow(ConfigError);
    expect(() => resolveModel('vit-h14-224')).toThrow(
      /unknown model 'vit-h14-224'.*vit-b16-224, vit-b16-384.*vit-l32-384/,
    );
    expect(() => resolveModel(tmp)).toThrow(/folder has no config\.json/);
    const bad = path.join(tmp, 'bad.json');
    writeFileSync(
      bad,
      JSON.stringify({
        image_size: 224,
        patch_size: 15,
        hidden_size: 768,
        num_heads: 12,
        num_layers: 12,
        mlp_dim: 3072,
        num_classes: 1000,
      }),
    );
    expect(() => resolveModel(bad)).toThrow(
      /bad\.json: invalid model config[\s\S]*not a multiple of patch_size 15/,
    );
  });
});
