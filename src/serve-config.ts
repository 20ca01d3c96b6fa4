import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import { z } from 'zod';
import { BACKENDS, PRECISIONS } from './engine/types.js';
import { ConfigError } from './errors.js';
import { STREAM_ID_PATTERN, STREAM_ID_RULE } from './server/stream-id.js';
import { RESIZE_MODES } from './video/args.js';
import { HWACCELS } from './video/hwaccel.js';
import { RTSP_TRANSPORTS } from './video/rtspTransport.js';

/** Shortest token accepted from the flag, VITSTREAM_TOKEN or the config: shorter ones are guessed. */
export const MIN_TOKEN_LENGTH = 8;
export const SHORT_TOKEN = `tokens shorter than ${MIN_TOKEN_LENGTH} characters are too easy to guess`;
const ORIGIN_EXPECTED =
  'expected an origin such as https://cams.example.com[:port] (scheme and host, no path), or *';

/** A web origin as browsers send it in `Origin` (http or https, no path), or '*'. */
function isOrigin(s: string): boolean {
  if (s === '*') return true;
  try {
    const u = new URL(s);
    return (
      (u.protocol === 'http:' || u.protocol === 'https:') && u.origin === s.replace(/\/+$/, '').toLowerCase()
    );
  } catch {
    return false;
  }
}

/** Streams the server runs at once unless `server.maxStreams` / `--max-streams` says otherwise. */
export const DEFAULT_MAX_STREAMS = 64;
/** Reconnection attempts of a live feed unless `reconnect.maxRetries` says otherwise ('forever' to never give up). */
export const DEFAULT_MAX_RETRIES = 100;

/**
 * `vitstream serve --config feeds.yaml`: the server, the model and the feeds, validated with
 * messages that name the file and the field.
 */
const streamFields = z.object({
  id: z.string().regex(STREAM_ID_PATTERN, STREAM_ID_RULE).optional(),
  url: z.string().min(1).optional(),
  path: z.string().min(1).optional(),
  realtime: z.boolean().optional(),
  loop: z.boolean().optional(),
  live: z.boolean().optional(),
  format: z.string().optional(),
  every: z.number().int().positive().optional(),
  fps: z.number().positive().optional(),
  policy: z.enum(['drop-oldest', 'drop-newest', 'block']).optional(),
  timeoutMs: z.number().int().positive().optional(),
  /** rtsp:// feeds: media over the TCP connection (default), over UDP, or ffmpeg's choice. */
  rtspTransport: z.enum(RTSP_TRANSPORTS).optional(),
  /** Stall watchdog for this stream (ms; 0 disables), overriding `watchdog`. */
  firstFrameTimeoutMs: z.number().int().nonnegative().optional(),
  noFrameTimeoutMs: z.number().int().nonnegative().optional(),
});

const oneSource = (s: { url?: string; path?: string }) => (s.url ? 1 : 0) + (s.path ? 1 : 0) === 1;
const oneRate = (s: { every?: number; fps?: number }) => !(s.every && s.fps);

const streamSchema = streamFields
  .strict()
  .refine(oneSource, { message: 'give exactly one of url or path' })
  .refine(oneRate, { message: 'every and fps are alternatives' });

/**
 * A stream offered over the API (HTTP /streams, WebSocket add-stream): the config's fields except
 * `format`, since a client must not choose ffmpeg's demuxer (`concat`, `tty` read files as text).
 */
const apiStreamSchema = streamFields
  .omit({ format: true })
  .strict()
  .refine(oneSource, { message: 'give exactly one of url or path' })
  .refine(oneRate, { message: 'every and fps are alternatives' });

export const serveConfigSchema = z
  .object({
    server: z
      .object({
        host: z.string().default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(8080),
        token: z.string().min(MIN_TOKEN_LENGTH, SHORT_TOKEN).optional(),
        allowedOrigins: z.array(z.string().refine(isOrigin, ORIGIN_EXPECTED)).optional(),
        /** Host names the server answers to besides IP literals, localhost and the bound address. */
        allowedHosts: z.array(z.string()).optional(),
        /** Folders whose files and sub-folders the stream API may open; none: no local paths over the API. */
        mediaRoots: z.array(z.string().min(1)).optional(),
        maxStreams: z.number().int().positive().default(DEFAULT_MAX_STREAMS),
        /** Accept run-time stream control (HTTP /streams, WebSocket add-stream...). */
        streamControl: z.boolean().default(true),
      })
      .strict()
      .default({ host: '127.0.0.1', port: 8080, streamControl: true, maxStreams: DEFAULT_MAX_STREAMS }),
    model: z
      .object({
        model: z.string().default('vit-b16-224'),
        weights: z.string().optional(),
        precision: z.enum(PRECISIONS).optional(),
        int8Mode: z.union([z.literal(1), z.literal(2)]).optional(),
        /** INT8 scales from `vitstream calibrate`; default scales.json beside the weights. */
        scales: z.string().optional(),
        backend: z.enum(BACKENDS).default('webgpu'),
        /** WebGPU adapter, by name or index (see `vitstream info`). */
        adapter: z.string().optional(),
        topK: z.number().int().positive().default(5),
      })
      .strict()
      .default({ model: 'vit-b16-224', backend: 'webgpu', topK: 5 }),
    batching: z
      .object({
        /** Both absent: chosen at start from the feeds' frame rates and the engine's measured latency. */
        maxBatch: z.number().int().positive().optional(),
        maxDelayMs: z.number().positive().optional(),
      })
      .strict()
      .default({}),
    /** Stall watchdog defaults for live streams, ms (0 disables). */
    watchdog: z
      .object({
        firstFrameTimeoutMs: z.number().int().nonnegative().default(15_000),
        noFrameTimeoutMs: z.number().int().nonnegative().default(10_000),
      })
      .strict()
      .default({ firstFrameTimeoutMs: 15_000, noFrameTimeoutMs: 10_000 }),
    resize: z.enum(RESIZE_MODES).default('squash'),
    /** Decoding: NVDEC where it works ('auto', the default), always ('cuda') or never ('none'). */
    hwaccel: z.enum(HWACCELS).optional(),
    /** Decode keyframes only: far less decoding for feeds sampled sparsely, frames where the encoder put keyframes. */
    keyframesOnly: z.boolean().optional(),
    reconnect: z
      .object({
        initialMs: z.number().positive().optional(),
        maxMs: z.number().positive().optional(),
        /** Attempts before a live feed gives up; 'forever' never gives up. */
        maxRetries: z
          .union([z.number().int().nonnegative(), z.literal('forever')])
          .default(DEFAULT_MAX_RETRIES),
      })
      .strict()
      .default({ maxRetries: DEFAULT_MAX_RETRIES }),
    /** May be empty when streams are added at run time through the stream API. */
    streams: z.array(streamSchema),
  })
  .strict()
  .superRefine((c, ctx) => {
    const seen = new Set<string>();
    c.streams.forEach((s, i) => {
      const id = s.id ?? s.url ?? s.path!;
      if (seen.has(id))
        ctx.addIssue({ code: 'custom', path: ['streams', i, 'id'], message: `duplicate stream id "${id}"` });
      seen.add(id);
    });
  });

export type ServeConfig = z.infer<typeof serveConfigSchema>;
export type StreamConfig = ServeConfig['streams'][number];
export type ApiStreamRequest = z.infer<typeof apiStreamSchema>;

export function parseServeConfig(raw: unknown, source = 'serve config'): ServeConfig {
  const r = serveConfigSchema.safeParse(raw);
  if (!r.success) {
    const lines = r.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new ConfigError(`${source}: invalid\n${lines.join('\n')}`, { input: source });
  }
  return r.data;
}

/** One stream as the run-time API takes it (a `streams` entry without `format`); throws ConfigError listing every problem. */
export function parseStreamRequest(raw: unknown, source = 'stream'): ApiStreamRequest {
  const r = apiStreamSchema.safeParse(raw);
  if (!r.success) {
    const lines = r.error.issues.map((i) => `${i.path.join('.') || '(stream)'}: ${i.message}`);
    throw new ConfigError(`${source}: invalid: ${lines.join('; ')}`, { input: source });
  }
  return r.data;
}

export function readServeConfig(file: string): ServeConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`${file}: cannot read (${(e as Error).message})`, { input: file, cause: e });
  }
  let raw: unknown;
  try {
    raw = file.endsWith('.json') ? JSON.parse(text) : YAML.parse(text);
  } catch (e) {
    throw new ConfigError(
      `${file}: not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'} (${(e as Error).message})`,
      { input: file, cause: e },
    );
  }
  return parseServeConfig(raw, file);
}
