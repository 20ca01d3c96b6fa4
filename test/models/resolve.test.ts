import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DownloadError } from '../../src/errors.js';
import { CATALOG, DEFAULT_FOR_PRESET, DEFAULT_PRESET, findCheckpoint } from '../../src/models/catalog.js';
import { PRESET_NAMES } from '../../src/models/presets.js';
import { downloadProgressReporter } from '../../src/models/progress.js';
import { resolveWeights, resolveWeightsDetailed } from '../../src/models/resolve.js';
import { sharedPath } from '../helpers/shared.js';
import { FileServer } from './fileServer.js';

const FIXTURES = sharedPath('fixtures', 'vit-tiny-test');
const FILE = 'weights.safetensors';
const bytes = readFileSync(path.join(FIXTURES, FILE));
const SHA = createHash('sha256').update(bytes).digest('hex');

let server: FileServer;
let base: string;
let cacheDir: string;
beforeAll(async () => {
  server = new FileServer(FIXTURES);
  base = await server.start();
});
afterAll(async () => server.stop());
beforeEach(async () => {
  cacheDir = await mkdtemp(path.join(os.tmpdir(), 'vitstream-resolve-'));
});
afterEach(async () => rm(cacheDir, { recursive: true, force: true }));

/** A fetch that records what it was asked for and fails like an offline machine (DNS failure). */
function offlineFetch(asked: string[]): typeof fetch {
  return async (input) => {
    asked.push(String(input));
    throw new TypeError('fetch failed', {
      cause: Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' }),
    });
  };
}

describe('resolveWeights', () => {
  it('returns a local file as it is', async () => {
    const p = path.join(FIXTURES, FILE);
    expect(await resolveWeights(p, { cacheDir })).toBe(p);
    expect(await resolveWeightsDetailed(p, { cacheDir })).toEqual({ path: p, kind: 'file' });
  });

  it('says which file is missing', async () => {
    const err = await resolveWeights('/nowhere/ViT-B_16.npz', { cacheDir }).catch((e) => e);
    expect(err).toBeInstanceOf(DownloadError);
    expect(err.message).toMatch(/'\/nowhere\/ViT-B_16\.npz' does not exist/);
  });

  it('lists known names for an unknown one', async () => {
    const err = await resolveWeights('vit-b17-224', { cacheDir }).catch((e) => e);
    expect(err).toBeInstanceOf(DownloadError);
    expect(err.message).toContain('vit-b16-224');
    expect(err.message).toContain('timm/deit_base_patch16_224.fb_in1k');
  });

  it('says when a preset has no checkpoint to download', async () => {
    const err = await resolveWeights('vit-l32-224', { cacheDir }).catch((e) => e);
    expect(err).toBeInstanceOf(DownloadError);
    expect(err.message).toMatch(/'vit-l32-224' has no downloadable ImageNet-1k checkpoint.*--weights/);
  });

  it('downloads a URL and verifies it against #sha256=', async () => {
    const p = await resolveWeights(`${base}/ok/${FILE}#sha256=${SHA}`, { cacheDir });
    expect(Buffer.compare(await readFile(p), bytes)).toBe(0);
  });

  it('downloads a preset name from its default checkpoint, pinned revision first', async () => {
    const asked: string[] = [];
    const err = await resolveWeights('vit-b16-224', { cacheDir, fetchImpl: offlineFetch(asked) }).catch(
      (e) => e,
    );
    expect(asked).toEqual([
      'https://huggingface.co/timm/vit_base_patch16_224.augreg2_in21k_ft_in1k/resolve/063c6c38a5d8510b2e57df480445e94b231dad2c/model.safetensors',
      'https://huggingface.co/timm/vit_base_patch16_224.augreg2_in21k_ft_in1k/resolve/main/model.safetensors',
    ]);
    expect(err).toBeInstanceOf(DownloadError);
    expect(err.message).toMatch(/huggingface\.co \(ENOTFOUND\)/);
    expect(err.message).toContain('--weights /path/to/model.safetensors');
    expect(err.message).toContain('32aa17d6e17b43500f531d5f6dc9bc93e56ed8841b8a75682e1bb295d722405b');
    expect(err.message).toContain(
      path.join(cacheDir, 'weights', 'timm--vit_base_patch16_224.augreg2_in21k_ft_in1k'),
    );
  });

  it('refuses a checkpoint without a pinned hash before touching the network', async () => {
    const asked: string[] = [];
    const err = await resolveWeights('google/ViT-B_16', { cacheDir, fetchImpl: offlineFetch(asked) }).catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(DownloadError);
    expect(err.message).toMatch(/--allow-unverified/);
    expect(asked).toEqual([]);
    await resolveWeights('google/ViT-B_16', {
      cacheDir,
      fetchImpl: offlineFetch(asked),
      allowUnverified: true,
    }).catch(() => {});
    expect(asked).toEqual([
      'https://storage.googleapis.com/vit_models/imagenet21k%2Bimagenet2012/ViT-B_16.npz',
    ]);
  });

  it('applies the catalogue hash to a pasted catalogue URL', async () => {
    const asked: string[] = [];
    const url = CATALOG.find((e) => e.id === 'timm/deit_base_patch16_224.fb_in1k')!.urls[1]!;
    const err = await resolveWeights(url, { cacheDir, fetchImpl: offlineFetch(asked) }).catch((e) => e);
    // Verified (so no --allow-unverified refusal): it got as far as the network.
    expect(asked).toEqual([url]);
    expect(err.message).toContain('cd2da27b74ed7f68b599f16c77af3e1e80f01c75f9ad96029d22ce747a247e8e');
  });
});

describe('catalogue', () => {
  const presets: readonly string[] = PRESET_NAMES;
  // Nobody publishes an ImageNet-1k ViT-L/32 fine-tuned at 224.
  const withoutCheckpoint = ['vit-l32-224'];

  it('has a default checkpoint of the right shape for every preset that has one', () => {
    expect(Object.keys(DEFAULT_FOR_PRESET).sort()).toEqual(
      presets.filter((p) => !withoutCheckpoint.includes(p)).sort(),
    );
    for (const preset of Object.keys(DEFAULT_FOR_PRESET))
      expect(findCheckpoint(preset)?.preset, preset).toBe(preset);
    expect(findCheckpoint(DEFAULT_PRESET)?.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('is well formed', () => {
    expect(new Set(CATALOG.map((e) => e.id)).size).toBe(CATALOG.length);
    for (const e of CATALOG) {
      expect(presets, e.id).toContain(e.preset);
      expect(e.urls.length, e.id).toBeGreaterThan(0);
      for (const u of e.urls) expect(new URL(u).protocol, e.id).toBe('https:');
      expect(e.sha256 === null || /^[0-9a-f]{64}$/.test(e.sha256), e.id).toBe(true);
      expect(e.sha256 === null || e.sha256Source.length > 0, e.id).toBe(true);
      expect(e.fileName.endsWith(`.${e.format}`), e.id).toBe(true);
      // The patch and image size in the preset name must match the checkpoint's own name.
      const [, size, patch, res] = /^vit-([bl])(\d+)-(\d+)$/.exec(e.preset)!;
      const name = e.id.toLowerCase();
      const google = /^google\/vit-([bl])_(\d+)(?:-(\d+))?$/.exec(name);
      if (google) expect([google[1], google[2], google[3] ?? '384'], e.id).toEqual([size, patch, res]);
      else
        expect(name, e.id).toMatch(new RegExp(`_${size === 'b' ? 'base' : 'large'}_patch${patch}_${res}\\.`));
    }
  });
});

describe('downloadProgressReporter', () => {
  it('prints plain lines, one per tenth, when not on a terminal', () => {
    const out = new PassThrough();
    const chunks: string[] = [];
    out.on('data', (c) => chunks.push(String(c)));
    const r = downloadProgressReporter('model', out);
    const total = 10 * 1024 * 1024;
    for (let got = 0; got <= total; got += 256 * 1024) r.onProgress({ received: got, total, url: 'u' });
    r.stop();
    const lines = chunks.join('').trim().split('\n');
    expect(lines).toHaveLength(11);
    expect(lines[0]).toBe('model: 0.0 of 10.0 MB (0%)');
    expect(lines.at(-1)).toBe('model: 10.0 of 10.0 MB (100%)');
  });
});
