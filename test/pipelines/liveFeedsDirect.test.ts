import { Writable } from 'node:stream';
import { pino } from 'pino';
import { lastValueFrom, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDashboardPipeline } from '../../pipelines/dashboard.js';
import { type LiveFeeds, liveFeeds } from '../../pipelines/liveFeeds.js';
import { readViTConfigFile } from '../../src/engine/config.js';
import { openGpu } from '../../src/engine/gpu.js';
import type { BatchRequest, DirectBatch, Engine } from '../../src/engine/types.js';
import { WebGpuEngine } from '../../src/engine/webgpu-engine.js';
import { loadWeights } from '../../src/engine/weights/index.js';
import { GpuUnavailableError } from '../../src/errors.js';
import { engineBeginBatch } from '../../src/operators/batchFrames.js';
import { classify } from '../../src/operators/classify.js';
import type { Prediction } from '../../src/predictions.js';
import { createServer } from '../../src/server/server.js';
import { sharedPath } from '../helpers/shared.js';
import { ffmpegChildren, makeClip, TempDir, waitFor } from '../video/media.js';

// Live feeds writing frames straight into a real WebGPU engine's batches (lavapipe in CI), against
// the pooled-buffer road that engine.infer() takes.
const fixture = 'vit-tiny-test';
const gpu = await openGpu();
const tmp = new TempDir();

/** An engine passing everything to `inner`, counting infer() calls and how each begun batch ended. */
function countingEngine(inner: WebGpuEngine, failBegins = 0) {
  const counts = { infer: 0, begun: 0, submitted: 0, cancelled: 0, written: 0, refused: 0 };
  let onWrite: (() => void) | undefined;
  const engine: Engine = {
    config: inner.config,
    backend: inner.backend,
    precision: inner.precision,
    maxBatch: inner.maxBatch,
    infer: (input) => {
      counts.infer++;
      return inner.infer(input);
    },
    beginBatch: async (request: BatchRequest): Promise<DirectBatch> => {
      if (counts.refused < failBegins) {
        counts.refused++;
        throw new GpuUnavailableError('GPU device was lost (test); open a new engine');
      }
      const b = await inner.beginBatch(request);
      counts.begun++;
      return {
        kind: b.kind,
        count: b.count,
        frameBytes: b.frameBytes,
        frame: (i, color) => {
          const view = b.frame(i, color);
          counts.written++;
          onWrite?.();
          return view;
        },
        submit: (n) => {
          counts.submitted++;
          return b.submit(n);
        },
        cancel: () => {
          counts.cancelled++;
          b.cancel();
        },
      };
    },
    close: async () => undefined,
  };
  return { engine, counts, onWrite: (f: (() => void) | undefined) => (onWrite = f) };
}

const key = (p: Prediction) => `${p.streamId}:${p.frame}`;

describe('live feeds into the engine’s own batches', () => {
  let inner: WebGpuEngine;
  let clipA: string;
  let clipB: string;
  beforeAll(async () => {
    const config = readViTConfigFile(sharedPath('fixtures', fixture, 'config.json'));
    const weights = await loadWeights(sharedPath('fixtures', fixture, 'weights.npz'), config);
    inner = await WebGpuEngine.open({ config, weights, precision: 'fp32', maxBatch: 4, gpu });
    clipA = makeClip(tmp.file('a.mp4'), { frames: 13, rate: 25 });
    clipB = makeClip(tmp.file('b.mp4'), { frames: 11, rate: 25, size: '96x128' });
  });

  /** serve's pipeline over clips a and b, NV12, batches of 4, ending with the files. */
  const twoFeeds = (engine: Engine, server: Awaited<ReturnType<typeof createServer>>) =>
    ({
      engine,
      server,
      feeds: [
        { id: 'a', path: clipA },
        { id: 'b', path: clipB },
      ],
      maxBatch: 4,
      maxDelayMs: 20,
      decode: { pixelFormat: 'nv12' },
      keepAlive: false,
      streamControl: false,
    }) as const;

  afterAll(async () => {
    await inner?.close();
    tmp.dispose();
    expect(await waitFor(() => ffmpegChildren().length === 0, 5000)).toBe(true);
  });

  /** Two files played once through liveFeeds and classify; thumbnails kept for feed b. */
  const classifyFeeds = async (pixelFormat: 'nv12' | 'rgb', direct: boolean) => {
    const c = countingEngine(inner);
    const feeds = liveFeeds(
      [
        { id: 'a', path: clipA },
        { id: 'b', path: clipB },
      ],
      {
        size: inner.config.imageSize,
        pixelFormat,
        maxBatch: 4,
        maxDelayMs: 20,
        ...(direct && { beginBatch: engineBeginBatch(c.engine) }),
      },
    );
    const predictions = await lastValueFrom(
      feeds.batches.pipe(
        classify(c.engine, { topK: 3, now: () => 0, keepPixels: (f) => f.streamId === 'b' }),
        toArray(),
      ),
    );
    return { byFrame: new Map(predictions.map((p) => [key(p), p])), counts: c.counts };
  };

  it.each(['nv12', 'rgb'] as const)(
    'gives the predictions and thumbnails of the infer path (%s), with every begun batch submitted',
    async (pixelFormat) => {
      const viaInfer = await classifyFeeds(pixelFormat, false);
      const direct = await classifyFeeds(pixelFormat, true);
      expect(viaInfer.byFrame.size).toBe(24);
      expect([...direct.byFrame.keys()].sort()).toEqual([...viaInfer.byFrame.keys()].sort());
      for (const [k, p] of direct.byFrame) {
        const q = viaInfer.byFrame.get(k) as Prediction;
        expect(p.top.map((t) => t.index)).toEqual(q.top.map((t) => t.index));
        for (const [i, t] of p.top.entries()) expect(t.score).toBeCloseTo(q.top[i]!.score, 5);
        // Thumbnails were copied out before submit took the engine's memory away.
        expect(p.image?.rgb).toEqual(q.image?.rgb);
        expect(p.image === undefined).toBe(p.streamId === 'a');
      }
      expect(direct.counts.infer).toBe(0);
      expect(direct.counts.begun).toBeGreaterThan(0);
      expect(direct.counts.written).toBe(24);
      expect(direct.counts.begun).toBe(direct.counts.submitted + direct.counts.cancelled);
      expect(viaInfer.counts.begun).toBe(0);
    },
  );

  it('gives a batch begun for a feed back when that feed is removed mid-batch, and at stop', async () => {
    const c = countingEngine(inner);
    const clip = makeClip(tmp.file('cam.mp4'), { frames: 50, rate: 25 });
    let feeds: LiveFeeds | undefined;
    // The first frame written removes its feed before a second can arrive (25 fps, played in real time).
    c.onWrite(() => {
      c.onWrite(undefined);
      queueMicrotask(() => feeds?.remove('cam'));
    });
    feeds = liveFeeds([{ id: 'cam', path: clip, realtime: true, loop: true }], {
      size: inner.config.imageSize,
      pixelFormat: 'nv12',
      maxBatch: 4,
      maxDelayMs: 50,
      keepAlive: true,
      beginBatch: engineBeginBatch(c.engine),
    });
    const predictions: Prediction[] = [];
    const sub = feeds.batches.pipe(classify(c.engine)).subscribe((p) => predictions.push(p));
    try {
      expect(await waitFor(() => c.counts.written > 0 && !feeds.has('cam'), 20_000)).toBe(true);
      // The batch left part-filled goes out on its delay and is submitted: no slot stays held.
      expect(await waitFor(() => c.counts.submitted + c.counts.cancelled === c.counts.begun, 20_000)).toBe(
        true,
      );
      expect(c.counts.submitted).toBeGreaterThan(0);
      expect(await waitFor(() => predictions.length === c.counts.written, 20_000)).toBe(true);
      // A feed added afterwards gets batches of its own, then the stream stops with one open.
      feeds.add({ id: 'cam2', path: clip, realtime: true, loop: true });
      const before = c.counts.written;
      expect(await waitFor(() => c.counts.written > before, 20_000)).toBe(true);
    } finally {
      sub.unsubscribe();
    }
    expect(c.counts.infer).toBe(0);
    // Batches in the engine finish; the one being filled was cancelled at unsubscribe.
    expect(await waitFor(() => c.counts.submitted + c.counts.cancelled === c.counts.begun, 20_000)).toBe(
      true,
    );
    // Both slots serve batches again.
    for (let i = 0; i < 2; i++) (await inner.beginBatch({ kind: 'nv12', count: 1 })).cancel();
  });

  it('serve’s pipeline goes on when the engine cannot begin a batch: that batch goes through infer, every frame classified', async () => {
    const c = countingEngine(inner, 1);
    const server = await createServer({
      port: 0,
      token: 'live-direct-token',
      heartbeatMs: 0,
      statsIntervalMs: 200,
    });
    // Warnings and errors as pino writes them: 'pipeline stopped' would be one.
    const warnings: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        warnings.push(JSON.parse(String(chunk)).msg);
        done();
      },
    });
    const logger = pino({ level: 'warn' }, sink);
    try {
      const pipeline = runDashboardPipeline({ ...twoFeeds(c.engine, server), logger });
      await pipeline.done;
      pipeline.stop();
      const streams = server.stats.snapshot().streams;
      expect([streams.a?.classified, streams.b?.classified]).toEqual([13, 11]);
      expect(c.counts.refused).toBe(1);
      expect(c.counts.infer).toBe(1);
      expect(c.counts.begun).toBe(c.counts.submitted + c.counts.cancelled);
      expect(warnings).toEqual(['engine batch not begun; this one goes through infer']);
    } finally {
      await server.close();
    }
  });

  it.each(['direct', 'infer'] as const)('serve’s pipeline takes the %s input path', async (inputPath) => {
    const c = countingEngine(inner);
    const server = await createServer({
      port: 0,
      token: 'live-direct-token',
      heartbeatMs: 0,
      statsIntervalMs: 200,
    });
    try {
      const pipeline = runDashboardPipeline({ ...twoFeeds(c.engine, server), inputPath });
      await pipeline.done;
      pipeline.stop();
      const streams = server.stats.snapshot().streams;
      expect([streams.a?.classified, streams.b?.classified]).toEqual([13, 11]);
      if (inputPath === 'direct') {
        expect(c.counts.infer).toBe(0);
        expect(c.counts.written).toBe(24);
        expect(c.counts.begun).toBe(c.counts.submitted + c.counts.cancelled);
      } else {
        expect(c.counts.begun).toBe(0);
        expect(c.counts.infer).toBeGreaterThan(0);
      }
    } finally {
      await server.close();
    }
  });
});
