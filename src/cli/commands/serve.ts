import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { autoBatching } from '../../../pipelines/autoBatching.js';
import { type FeedSpec, runDashboardPipeline } from '../../../pipelines/dashboard.js';
import { feedInputProblem } from '../../../pipelines/startupFeeds.js';
import type { ApiSourceCheck } from '../../../pipelines/streamControl.js';
import { ConfigError, InputError } from '../../errors.js';
import {
  MIN_TOKEN_LENGTH,
  parseServeConfig,
  readServeConfig,
  type ServeConfig,
  SHORT_TOKEN,
} from '../../serve-config.js';
import { childProcesses } from '../../server/processStats.js';
import { createServer } from '../../server/server.js';
import { checkApiSource, DEFAULT_API_SCHEMES } from '../../server/source-policy.js';
import { createLogger } from '../../util/logger.js';
import { RESIZE_MODES } from '../../video/args.js';
import { HWACCELS } from '../../video/hwaccel.js';
import { RTSP_TRANSPORTS } from '../../video/rtspTransport.js';
import { detectKind } from '../../video/source.js';
import { signalGroup } from '../../video/spawn.js';
import { HWACCEL_HELP, KEYFRAMES_HELP } from '../decode-options.js';
import { openEngineWithProgress } from '../engine-options.js';
import { INPUT_PATH_HELP, parseChoice, parseInputPath, parseInt8Mode, parsePositiveInt } from '../options.js';
import { serveFromNats } from './serve-nats.js';

interface ServeFlags {
  config?: string;
  port?: string;
  host?: string;
  token?: string;
  auth?: boolean;
  allowedOrigin?: string[];
  allowedHost?: string[];
  mediaRoot?: string[];
  maxStreams?: string;
  maxRetries?: string;
  realtime?: boolean;
  loop?: boolean;
  rtspTransport?: string;
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
  hwaccel?: string;
  keyframesOnly?: boolean;
  maxBatch?: string;
  maxDelay?: string;
  firstFrameTimeout?: string;
  stallTimeout?: string;
  cacheDir?: string;
  allowUnverified?: boolean;
  exitWhenDone?: boolean;
  nats?: string;
  inputPath: string;
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
    .option(
      '--token <token>',
      'token clients must send (or VITSTREAM_TOKEN; at least 8 characters); default: a random one, printed with the dashboard URL',
    )
    .option('--no-auth', 'no token at all: only when listening on loopback')
    .option(
      '--allowed-origin <origin>',
      'a web origin (https://host[:port]) whose pages may use the API and WebSocket; repeatable (default: the server itself)',
      collect,
    )
    .option(
      '--allowed-host <name>',
      'a host name the server answers to besides IPs and localhost; repeatable',
      collect,
    )
    .option(
      '--media-root <dir>',
      'a folder whose files the stream API may open; repeatable (default none: URLs only over the API)',
      collect,
    )
    .option('--max-streams <n>', 'streams running at once; the API refuses more (default 64)')
    .option(
      '--max-retries <n|forever>',
      'reconnection attempts of a live feed before it gives up (default 100)',
    )
    .option('--realtime', 'play file sources at their own frame rate, as a camera would')
    .option('--loop', 'play file sources again when they end')
    .option(
      '--rtsp-transport <tcp|udp|auto>',
      'how rtsp:// feeds carry media, unless a stream says (config key rtspTransport); default tcp',
    )
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
    .option('--hwaccel <h>', HWACCEL_HELP)
    .option('--keyframes-only', KEYFRAMES_HELP)
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
    .option('--input-path <path>', INPUT_PATH_HELP, 'direct')
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
      const inputPath = parseInputPath(f.inputPath);
      const token = chooseToken(config, f);
      await checkFeedInputs(config, f.config ?? 'command line');
      const checkSource = sourcePolicy(config.server.mediaRoots ?? []);
      // The config file was checked by its schema: typed values, nothing to parse again.
      const engine = await openEngineWithProgress(
        {
          model: config.model.model,
          weights: config.model.weights,
          precision: config.model.precision,
          int8Mode: config.model.int8Mode ?? 1,
          scales: config.model.scales,
          backend: config.model.backend,
          gpuOptions: { adapter: config.model.adapter },
          // Automatic batching picks within this engine maximum.
          maxBatch: config.batching.maxBatch ?? 16,
          download: { cacheDir: f.cacheDir, allowUnverified: f.allowUnverified },
        },
        logLevel,
      );
      const server = await createServer({
        host: config.server.host,
        port: config.server.port,
        token: token.value,
        allowedOrigins: config.server.allowedOrigins,
        allowedHosts: config.server.allowedHosts,
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
        // NV12: half the bytes of RGB from ffmpeg to the engine, which converts on the device.
        decode: {
          hwaccel: config.hwaccel ?? 'auto',
          pixelFormat: 'nv12',
          keyframesOnly: config.keyframesOnly,
        },
        topK: config.model.topK,
        inputPath,
        backoff: {
          ...config.reconnect,
          maxRetries:
            config.reconnect.maxRetries === 'forever'
              ? Number.POSITIVE_INFINITY
              : config.reconnect.maxRetries,
        },
        firstFrameTimeoutMs: config.watchdog.firstFrameTimeoutMs,
        noFrameTimeoutMs: config.watchdog.noFrameTimeoutMs,
        keepAlive: !f.exitWhenDone,
        streamControl: config.server.streamControl,
        maxStreams: config.server.maxStreams,
        checkSource,
        logger,
      });
      process.stderr.write(
        `vitstream: serving ${feeds.length} feed(s) on ${server.url} (dashboard), ${server.wsUrl} (WebSocket), ${server.url}metrics, ${server.url}streams (stream control)\n`,
      );
      // As Jupyter does: the token made for this run goes out once, in the URL that opens the dashboard.
      if (token.generated)
        process.stderr.write(
          `vitstream: no --token given: open the dashboard at ${server.url}?token=${token.value}\n`,
        );
      else if (token.value === undefined)
        process.stderr.write('vitstream: --no-auth: anyone who can reach the port may use the server\n');
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

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

const LOOPBACK = /^(127(\.\d{1,3}){3}|::1|localhost|\[::1\])$/i;

/**
 * The token, safe by default: --token or VITSTREAM_TOKEN (checked alike, by the config schema), else a
 * random one made now; none only with --no-auth, and --no-auth only on loopback.
 */
function chooseToken(config: ServeConfig, f: ServeFlags): { value?: string; generated: boolean } {
  const host = config.server.host;
  if (f.auth === false) {
    if (!LOOPBACK.test(host))
      throw new InputError(
        `--no-auth: refused when listening on ${host}, which other machines can reach: use a token (--token or the random default)`,
        { input: '--no-auth' },
      );
    if (config.server.token !== undefined)
      throw new InputError(
        '--no-auth: a token was also given (--token, VITSTREAM_TOKEN or the config): choose one',
        {
          input: '--no-auth',
        },
      );
    return { generated: false };
  }
  if (config.server.token !== undefined) return { value: config.server.token, generated: false };
  return { value: randomBytes(24).toString('base64url'), generated: true };
}

/**
 * The source policy for streams added over the API: src/server/source-policy.ts (checkApiSource, the
 * --media-root rules) when it is in the tree, else network URLs only. Loaded by a computed path so that
 * this file builds before that module lands; once it has, this becomes a plain import.
 */
/** The stream API's check of run-time sources: network URLs of the usual schemes, and files under --media-root. */
function sourcePolicy(mediaRoots: string[]): ApiSourceCheck {
  const rules = { mediaRoots, allowedSchemes: DEFAULT_API_SCHEMES };
  return (body) => checkApiSource(body, rules);
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

function nonNegativeCount(v: string, flag: string): number {
  const n = Number(v);
  if (!(Number.isInteger(n) && n >= 0))
    throw new InputError(`${flag}: expected a whole number >= 0 or "forever", got "${v}"`, { input: flag });
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
  const maxStreams = f.maxStreams === undefined ? undefined : parsePositiveInt(f.maxStreams, '--max-streams');
  const maxRetries =
    f.maxRetries === undefined
      ? undefined
      : f.maxRetries === 'forever'
        ? ('forever' as const)
        : nonNegativeCount(f.maxRetries, '--max-retries');
  const envToken = process.env.VITSTREAM_TOKEN;
  // The flag and the environment by the same rule as the config file, each error naming where the token came from.
  if (f.token !== undefined && f.token.length < MIN_TOKEN_LENGTH)
    throw new InputError(`--token: ${SHORT_TOKEN}`, { input: '--token' });
  if (f.token === undefined && envToken !== undefined && envToken.length < MIN_TOKEN_LENGTH)
    throw new InputError(`VITSTREAM_TOKEN: ${SHORT_TOKEN}`, { input: 'VITSTREAM_TOKEN' });
  const rtspTransport = f.rtspTransport && parseChoice(f.rtspTransport, '--rtsp-transport', RTSP_TRANSPORTS);
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
        // VITSTREAM_TOKEN is the flag by another road: the same schema checks it.
        ...(envToken !== undefined && f.token === undefined && { token: envToken }),
        ...(f.token !== undefined && { token: f.token }),
        ...(f.allowedOrigin && {
          allowedOrigins: [...(base.server.allowedOrigins ?? []), ...f.allowedOrigin],
        }),
        ...(f.allowedHost && { allowedHosts: [...(base.server.allowedHosts ?? []), ...f.allowedHost] }),
        ...(f.mediaRoot && { mediaRoots: [...(base.server.mediaRoots ?? []), ...f.mediaRoot] }),
        ...(maxStreams !== undefined && { maxStreams }),
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
      ...(f.hwaccel && { hwaccel: parseChoice(f.hwaccel, '--hwaccel', HWACCELS) }),
      ...(f.keyframesOnly && { keyframesOnly: true }),
      reconnect: { ...base.reconnect, ...(maxRetries !== undefined && { maxRetries }) },
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
        ...(rtspTransport && !s.rtspTransport && { rtspTransport }),
        ...(fps && !s.every && { fps }),
      })),
    },
    f.config ?? 'command line',
  );
}
