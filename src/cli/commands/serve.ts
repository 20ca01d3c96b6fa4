import type { Command } from 'commander';
import {
  autoBatching,
  type FeedSpec,
  feedInputProblem,
  runDashboardPipeline,
} from '../../../pipelines/dashboard.js';
import { ConfigError, InputError } from '../../errors.js';
import { parseServeConfig, readServeConfig, type ServeConfig } from '../../serve-config.js';
import { childProcesses } from '../../server/processStats.js';
import { createServer } from '../../server/server.js';
import { createLogger } from '../../util/logger.js';
import { RESIZE_MODES } from '../../video/args.js';
import { detectKind } from '../../video/source.js';
import { signalGroup } from '../../video/spawn.js';
import { openEngineFromFlags } from '../engine-options.js';
import { parseChoice, parseInt8Mode, parsePositiveInt } from '../options.js';
import { serveFromNats } from './serve-nats.js';

interface ServeFlags {
  config?: string;
  port?: string;
  host?: string;
  token?: string;
  realtime?: boolean;
  loop?: boolean;
  fps?: string;
  model?: string;
  weights?: string;
  precision?: string;
  int8Mode?: string;
  scales?: string;
  backend?: string;
  adapter?: string;
  topK?: string;
  resize?: string;
  maxBatch?: string;
  maxDelay?: string;
  firstFrameTimeout?: string;
  stallTimeout?: string;
  cacheDir?: string;
  allowUnverified?: boolean;
  exitWhenDone?: boolean;
  nats?: string;
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description(
      'classify live feeds continuously: WebSocket predictions, a dashboard on http://host:port/, /metrics for Prometheus',
    )
    .argument(
      '[sources...]',
      'feeds (camera /dev/videoN, rtsp:// or http(s):// URL, file) when no --config is given',
    )
    .option('--config <file>', 'YAML or JSON: server, model, batching and streams (see README)')
    .option('--port <n>', 'HTTP port (overrides the config)')
    .option('--host <addr>', 'interface to listen on (overrides the config)')
    .option('--token <token>', 'require this token from WebSocket and /metrics clients (or VITSTREAM_TOKEN)')
    .option('--realtime', 'play file sources at their own frame rate, as a camera would')
    .option('--loop', 'play file sources again when they end')
    .option('--fps <f>', 'classify at most f frames per second of each feed')
    .option('--model <preset|config.json|folder>', 'model (overrides the config)')
    .option('--weights <file|url|name>', 'weights (overrides the config)')
    .option('--precision <p>', 'fp32, fp16 or int8 (overrides the config)')
    .option('--int8-mode <1|2>', 'INT8 mode: 1 = int8 GEMM inputs, 2 = int8 between fused kernels')
    .option('--scales <file>', 'INT8 calibration scales (default: scales.json beside the weights)')
    .option('--backend <b>', 'webgpu or cpu (overrides the config)')
    .option('--adapter <name|index>', 'WebGPU adapter (see `vitstream info`)')
    .option('--top-k <k>', 'classes per prediction (overrides the config; default 5)')
    .option('--resize <mode>', 'squash, center-crop or letterbox (overrides the config; default squash)')
    .option(
      '--max-batch <n>',
      'largest batch (overrides the config; default: chosen from the feeds and the engine)',
    )
    .option(
      '--max-delay <ms>',
      'longest a frame waits for a batch (overrides the config; default: chosen automatically)',
    )
    .option(
      '--first-frame-timeout <ms>',
      'stall watchdog: restart a live feed with no first frame after ms (default 15000; 0 = off)',
    )
    .option(
      '--stall-timeout <ms>',
      'stall watchdog: restart a live feed that sends no frame for ms (default 10000; 0 = off)',
    )
    .option('--cache-dir <dir>', 'where downloaded weights are kept')
    .option('--allow-unverified', 'allow downloading checkpoints that have no pinned SHA-256')
    .option('--exit-when-done', 'exit once every feed has ended (files played once) instead of serving on')
    .option(
      '--nats <url>',
      "with no feeds: show the cluster's live feeds from NATS (vitstream.live.>), no engine here",
    )
    .action(async (sources: string[], f: ServeFlags) => {
      // A server's log is its record: info by default (feeds starting, failing, recovering).
      const logLevel = (program.opts().logLevel as string | undefined) ?? 'info';
      const logger = createLogger('vitstream serve', logLevel);
      if (f.nats)
        return serveFromNats({ ...f, nats: f.nats, localFeeds: sources.length > 0 || !!f.config }, logger);
      const config = buildConfig(sources, f);
      await checkFeedInputs(config, f.config ?? 'command line');
      const engine = await openEngineFromFlags(
        {
          model: config.model.model,
          weights: config.model.weights,
          precision: config.model.precision,
          int8Mode: String(config.model.int8Mode ?? 1),
          scales: config.model.scales,
          backend: config.model.backend,
          adapter: config.model.adapter,
          // Automatic batching picks within this engine maximum.
          maxBatch: String(config.batching.maxBatch ?? 16),
          cacheDir: f.cacheDir,
          allowUnverified: f.allowUnverified,
        },
        logLevel,
      );
      const server = await createServer({
        host: config.server.host,
        port: config.server.port,
        token: config.server.token ?? process.env.VITSTREAM_TOKEN,
        allowedOrigins: config.server.allowedOrigins,
        logger,
      });
      const feeds: FeedSpec[] = config.streams.map(({ every, fps, ...s }) => ({
        ...s,
        sample: every ? { every } : fps ? { fps } : undefined,
      }));
      let { maxBatch, maxDelayMs } = config.batching;
      if (maxBatch === undefined || maxDelayMs === undefined) {
        const auto = await autoBatching(engine, feeds, logger);
        maxBatch ??= auto.maxBatch;
        maxDelayMs ??= auto.maxDelayMs;
        const lat = auto.latency.map((l) => `${l.size}:${l.ms.toFixed(1)}ms`).join(' ');
        process.stderr.write(
          `vitstream: batching maxBatch=${maxBatch} maxDelayMs=${maxDelayMs} (${auto.reason}; engine ${lat})\n`,
        );
      }
      const pipeline = runDashboardPipeline({
        engine,
        server,
        feeds,
        maxBatch,
        maxDelayMs,
        resize: config.resize,
        topK: config.model.topK,
        backoff: config.reconnect,
        firstFrameTimeoutMs: config.watchdog.firstFrameTimeoutMs,
        noFrameTimeoutMs: config.watchdog.noFrameTimeoutMs,
        keepAlive: !f.exitWhenDone,
        streamControl: config.server.streamControl,
        logger,
      });
      process.stderr.write(
        `vitstream: serving ${feeds.length} feed(s) on ${server.url} (dashboard), ${server.wsUrl} (WebSocket), ${server.url}metrics, ${server.url}streams (stream control)\n`,
      );
      let stopping = false;
      const shutdown = async (why: string) => {
        if (stopping) return;
        stopping = true;
        process.stderr.write(`vitstream: ${why}: stopping feeds, closing clients\n`);
        pipeline.stop();
        await server.close(why === 'all feeds ended' ? 'all feeds ended' : 'server shutting down');
        await reapFfmpeg(2500);
        await engine.close();
      };
      const onSignal = (sig: string) => void shutdown(`received ${sig}`).then(() => process.exit(0));
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      await pipeline.done;
      if (f.exitWhenDone) {
        await shutdown('all feeds ended');
        // Like classify: a line per feed at the end (frames classified, or why it failed), exit code 1 if any failed.
        const failed = pipeline.failures();
        const failedIds = new Set(failed.map((f) => f.id));
        for (const [id, s] of Object.entries(server.stats.snapshot().streams))
          if (!failedIds.has(id))
            process.stderr.write(`vitstream: feed ${id}: ${s.classified ?? 0} frames classified\n`);
        for (const { id, message } of failed) process.stderr.write(`vitstream: feed ${id}: ${message}\n`);
        if (failed.length > 0) process.exitCode = 1;
      }
    });
}

/** Every feed of the command line or config whose input cannot work (see feedInputProblem), in one error. */
async function checkFeedInputs(config: ServeConfig, source: string): Promise<void> {
  const problems = await Promise.all(config.streams.map((s) => feedInputProblem(s)));
  const lines = problems.flatMap((p, i) => (p ? [`  streams.${i}: ${p}`] : []));
  if (lines.length > 0) throw new ConfigError(`${source}: invalid\n${lines.join('\n')}`, { input: source });
}

/**
 * Waits for stopped ffmpegs to exit (they were sent SIGTERM), then SIGKILLs any still there with
 * their process groups: the process must not exit leaving children behind.
 */
async function reapFfmpeg(graceMs: number): Promise<void> {
  const t0 = Date.now();
  while (Date.now() - t0 < graceMs) {
    const left = childProcesses('ffmpeg');
    if (!left || left.length === 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  for (const pid of childProcesses('ffmpeg') ?? []) signalGroup(pid, 'SIGKILL');
}

function nonNegativeMs(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!(Number.isInteger(n) && n >= 0))
    throw new InputError(`${flag}: expected a whole number of ms >= 0, got "${v}"`, { input: flag });
  return n;
}

function buildConfig(sources: string[], f: ServeFlags): ServeConfig {
  if (!f.config && sources.length === 0)
    process.stderr.write(
      'vitstream: no feeds given: starting empty; add streams with POST /streams or a WebSocket add-stream message\n',
    );
  if (f.config && sources.length > 0)
    throw new InputError('serve: give feeds either as arguments or in --config, not both', {
      input: 'serve',
    });
  const base: ServeConfig = f.config
    ? readServeConfig(f.config)
    : parseServeConfig(
        { streams: sources.map((s) => (detectKind(s) === 'url' ? { url: s } : { path: s })) },
        'command line',
      );
  const maxDelayMs = f.maxDelay === undefined ? undefined : Number(f.maxDelay);
  if (maxDelayMs !== undefined && !(maxDelayMs > 0))
    throw new InputError(`--max-delay: expected a positive number of ms, got "${f.maxDelay}"`, {
      input: '--max-delay',
    });
  const firstFrameTimeoutMs = nonNegativeMs(f.firstFrameTimeout, '--first-frame-timeout');
  const noFrameTimeoutMs = nonNegativeMs(f.stallTimeout, '--stall-timeout');
  const port = f.port === undefined ? undefined : Number(f.port);
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port < 65536))
    throw new InputError(`--port: expected 0-65535, got "${f.port}"`, { input: '--port' });
  const fps = f.fps === undefined ? undefined : Number(f.fps);
  if (fps !== undefined && !(fps > 0))
    throw new InputError(`--fps: expected a positive number, got "${f.fps}"`, { input: '--fps' });
  return parseServeConfig(
    {
      ...base,
      server: {
        ...base.server,
        ...(port !== undefined && { port }),
        ...(f.host && { host: f.host }),
        ...(f.token && { token: f.token }),
      },
      model: {
        ...base.model,
        ...(f.model && { model: f.model }),
        ...(f.weights && { weights: f.weights }),
        ...(f.precision && { precision: f.precision }),
        ...(f.int8Mode && { int8Mode: parseInt8Mode(f.int8Mode) }),
        ...(f.scales && { scales: f.scales }),
        ...(f.backend && { backend: f.backend }),
        ...(f.adapter && { adapter: f.adapter }),
        ...(f.topK && { topK: parsePositiveInt(f.topK, '--top-k') }),
      },
      ...(f.resize && { resize: parseChoice(f.resize, '--resize', RESIZE_MODES) }),
      batching: {
        ...base.batching,
        ...(f.maxBatch && { maxBatch: Number(f.maxBatch) }),
        ...(maxDelayMs !== undefined && { maxDelayMs }),
      },
      watchdog: {
        ...base.watchdog,
        ...(firstFrameTimeoutMs !== undefined && { firstFrameTimeoutMs }),
        ...(noFrameTimeoutMs !== undefined && { noFrameTimeoutMs }),
      },
      streams: base.streams.map((s) => ({
        ...s,
        ...(f.realtime && { realtime: true }),
        ...(f.loop && { loop: true }),
        ...(fps && !s.every && { fps }),
      })),
    },
    f.config ?? 'command line',
  );
}
