import { mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DashboardPipeline, runDashboardPipeline } from '../../pipelines/dashboard.js';
import { openEngine } from '../../src/app/open-engine.js';
import type { Engine } from '../../src/engine/types.js';
import { createServer, type VitstreamServer } from '../../src/server/server.js';
import { checkApiSource, DEFAULT_API_SCHEMES } from '../../src/server/source-policy.js';
import { sharedPath } from '../helpers/shared.js';
import { ffmpeg, ffmpegChildren, makeClip, TempDir, waitFor } from '../video/media.js';
import { type Msg, TestClient } from './helpers.js';

// Issue #20 item 1: a folder or glob offered over the API is read as exactly the files the source
// policy checked inside the media root. A link in the root that points outside it is never read
// (ffmpeg's own glob followed it), and a glob of videos is refused rather than read as images.
const TOKEN = 'streams-api-images-token';
const tmp = new TempDir();
const root = tmp.file('media');
// Link folders go to os.tmpdir(): a private one here, so that other test files cannot interfere.
const privateTmp = tmp.file('tmp');
const savedTmpdir = process.env.TMPDIR;
let engine: Engine;
let server: VitstreamServer;
let pipeline: DashboardPipeline;
let ws: TestClient;

function image(file: string, color: string) {
  ffmpeg(['-f', 'lavfi', '-i', `color=c=${color}:s=32x32`, '-frames:v', '1', file]);
}

async function post(body: object) {
  const res = await fetch(new URL('/streams', server.url), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Msg };
}

/** The base names of the files the stream's predictions came from, once its last inside image (b.png) is in. */
async function filesClassified(id: string): Promise<string[]> {
  const of = () => ws.messages.filter((m) => m.type === 'prediction' && m.streamId === id);
  expect(await waitFor(() => of().some((m) => path.basename(m.file ?? '') === 'b.png'), 60_000)).toBe(true);
  return [...new Set(of().map((m) => path.basename(m.file ?? '(none)')))].sort();
}

beforeAll(async () => {
  mkdirSync(root);
  mkdirSync(privateTmp);
  process.env.TMPDIR = privateTmp;
  mkdirSync(tmp.file('outside'));
  image(path.join(root, 'a.png'), 'red');
  image(path.join(root, 'b.png'), 'blue');
  image(tmp.file('outside/secret.png'), 'green');
  // Sorts between a.png and b.png: were it read, it would be classified before b.png.
  symlinkSync(tmp.file('outside/secret.png'), path.join(root, 'a0.png'));
  makeClip(path.join(root, 'clip.mp4'), { frames: 5 });
  const dir = sharedPath('models', 'vit-cifar10-demo');
  engine = await openEngine({
    model: `${dir}/config.json`,
    weights: `${dir}/model.safetensors`,
    backend: 'cpu',
    maxBatch: 4,
  });
  server = await createServer({ port: 0, token: TOKEN, heartbeatMs: 0, statsIntervalMs: 200 });
  const policy = { mediaRoots: [root], allowedSchemes: DEFAULT_API_SCHEMES };
  pipeline = runDashboardPipeline({
    engine,
    server,
    feeds: [],
    maxBatch: 4,
    maxDelayMs: 20,
    checkSource: (body) => checkApiSource(body, policy),
  });
  ws = await TestClient.connect(`${server.wsUrl}?token=${TOKEN}`);
  await ws.subscribe(['*']);
}, 120_000);

afterAll(async () => {
  await ws?.close();
  pipeline?.stop();
  await server?.close();
  await engine?.close();
  if (savedTmpdir === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = savedTmpdir;
  tmp.dispose();
  expect(await waitFor(() => ffmpegChildren().length === 0, 5000)).toBe(true);
});

describe('folders and globs over the stream API', () => {
  it('a folder: its images inside the root are classified, a link out of the root never is', async () => {
    expect((await post({ id: 'folder', path: root })).status).toBe(201);
    expect(await filesClassified('folder')).toEqual(['a.png', 'b.png']);
  }, 90_000);

  it('a glob: the same, by the checked list', async () => {
    expect((await post({ id: 'glob', path: path.join(root, '*.png') })).status).toBe(201);
    expect(await filesClassified('glob')).toEqual(['a.png', 'b.png']);
  }, 90_000);

  it('a glob of videos is refused (it would be read as images), before any ffmpeg starts', async () => {
    const r = await post({ id: 'videos', path: path.join(root, '*.mp4') });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatch(/not images/);
  });

  it('leaves no link folder behind once the streams ended', async () => {
    expect(await waitFor(() => pipeline.streams().length === 0, 30_000)).toBe(true);
    expect(
      await waitFor(() => !readdirSync(privateTmp).some((n) => n.startsWith('vitstream-images-')), 10_000),
    ).toBe(true);
  });
});
