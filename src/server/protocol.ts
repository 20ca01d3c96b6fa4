import { z } from 'zod';
import type { TopClass } from '../predictions.js';
import { isStreamId, MAX_STREAM_ID_LENGTH, STREAM_ID_RULE } from './stream-id.js';

/**
 * The WebSocket protocol, both directions. PROTOCOL.md beside this file is the prose version;
 * keep the two in step.
 */

/** The wildcard subscription: every stream, including ones that appear later. */
export const ALL_STREAMS = '*';

/** Limits on what a client may send, independent of the transport's maxPayload. */
export const MAX_STREAMS_PER_MESSAGE = 256;
/** Subscriptions one client may hold in all (besides '*', which covers every stream). */
export const MAX_SUBSCRIPTIONS_PER_CLIENT = 1024;
export { MAX_STREAM_ID_LENGTH };

/** Per-stream figures a pipeline reports periodically. Extra numeric or string fields pass through. */
export interface StreamStats {
  /** Frames per second arriving from the source. */
  fpsIn?: number;
  /** Frames per second classified. */
  fpsClassified?: number;
  /** Recent frame-arrival-to-prediction latency, ms. */
  latencyMs?: number;
  /** Frames dropped since the stream started. */
  dropped?: number;
  /** e.g. 'live', 'connecting', 'reconnecting', 'ended', 'error'. */
  state?: string;
  [key: string]: number | string | boolean | undefined;
}

/** Engine-wide figures, shown once on the dashboard. */
export interface EngineStats {
  /** Fraction of wall time the engine was busy, 0..1. */
  utilization?: number;
  batchLatencyMs?: number;
  batchSize?: number;
  [key: string]: number | string | boolean | undefined;
}

export interface StatsSnapshot {
  streams: Record<string, StreamStats>;
  engine?: EngineStats;
}

/** Something that happened to a stream or the server (source lost, reconnecting, ended...). */
export interface ServerEvent {
  /** Short machine-readable kind, e.g. 'source-error', 'reconnecting', 'ended'. */
  kind: string;
  message: string;
  streamId?: string;
  level?: 'info' | 'warn' | 'error';
  [key: string]: unknown;
}

export interface HelloMessage {
  type: 'hello';
  version: string;
  streams: string[];
  /** How often the server pings; a client that does not answer within two intervals is dropped. */
  heartbeatMs: number;
}
export interface StreamsMessage {
  type: 'streams';
  streams: string[];
}
export interface SubscribedMessage {
  type: 'subscribed';
  /** What this request changed: ids added (subscribe) or removed (unsubscribe), sorted. Never the whole list. */
  added?: string[];
  removed?: string[];
  /** How many subscriptions the client holds after the request ('*' counts as one). */
  count: number;
  /** True when the client is subscribed to every stream ('*'). */
  all: boolean;
}
export interface PredictionMessage {
  type: 'prediction';
  streamId: string;
  frame: number;
  /** The stream's own presentation time, ms; restarts with each (re)connection. */
  ptsMs: number;
  /** Wall-clock time (epoch ms, this server's clock) at which the frame arrived from ffmpeg. */
  receivedAtMs: number;
  /** `receivedAtMs` as ISO 8601 UTC, e.g. 2025-01-31T12:00:00.123Z. */
  receivedAt: string;
  latencyMs: number;
  /** Image folders and globs: the image classified. */
  file?: string;
  top: TopClass[];
  /** `data:image/png;base64,...` of the classified frame, sent at most a few times a second per stream. */
  thumbnail?: string;
}
export interface StatsMessage {
  type: 'stats';
  atMs: number;
  streams: Record<string, StreamStats>;
  engine?: EngineStats;
}
export interface EventMessage extends ServerEvent {
  type: 'event';
  atMs: number;
}
export interface MissedMessage {
  type: 'missed';
  /** Messages dropped for this client since its last `missed` notice, because it read too slowly. */
  count: number;
}
export interface ErrorMessage {
  type: 'error';
  message: string;
  /** For failed requests: the HTTP status the same request gets on /streams (400, 404, 409, 429, 503). */
  status?: number;
}
export interface PongMessage {
  type: 'pong';
  id?: string | number;
}

/** A stream as the control API shows it (HTTP /streams and the WebSocket control messages). */
export interface StreamInfo {
  id: string;
  /** The URL, path or device ffmpeg opens. */
  input: string;
  kind: string;
  live: boolean;
  /** e.g. 'live', 'reconnecting', 'stalled', 'ended' once known. */
  state?: string;
  [key: string]: unknown;
}
export interface StreamAddedMessage {
  type: 'stream-added';
  stream: StreamInfo;
}
export interface StreamRemovedMessage {
  type: 'stream-removed';
  id: string;
}
export interface StreamListMessage {
  type: 'stream-list';
  streams: StreamInfo[];
}

export type ServerMessage =
  | HelloMessage
  | StreamsMessage
  | SubscribedMessage
  | PredictionMessage
  | StatsMessage
  | EventMessage
  | MissedMessage
  | ErrorMessage
  | PongMessage
  | StreamAddedMessage
  | StreamRemovedMessage
  | StreamListMessage;

export type ServerMessageType = ServerMessage['type'];

const streamId = z.string().refine(isStreamId, { message: `not a stream id (${STREAM_ID_RULE})` });
const streamList = z
  .array(
    z.string().refine((s) => s === ALL_STREAMS || isStreamId(s), {
      message: `not a stream id or "*" (${STREAM_ID_RULE})`,
    }),
  )
  .min(1)
  .max(MAX_STREAMS_PER_MESSAGE);

const clientSchemas = {
  subscribe: z.object({ type: z.literal('subscribe'), streams: streamList }),
  unsubscribe: z.object({ type: z.literal('unsubscribe'), streams: streamList }),
  ping: z.object({ type: z.literal('ping'), id: z.union([z.string().max(64), z.number()]).optional() }),
  // The stream's fields ride along with `type`; the stream controller validates them.
  'add-stream': z.looseObject({ type: z.literal('add-stream') }),
  'remove-stream': z.object({
    type: z.literal('remove-stream'),
    id: streamId,
  }),
  'list-streams': z.object({ type: z.literal('list-streams') }),
} as const;

export type ClientMessage = z.infer<(typeof clientSchemas)[keyof typeof clientSchemas]>;

export type ParseResult = { ok: true; message: ClientMessage } | { ok: false; error: string };

const CLIENT_TYPES = Object.keys(clientSchemas).join(', ');

/** Parses one text frame from a client. Never throws: a bad message yields a reason to send back. */
export function parseClientMessage(text: string): ParseResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, error: 'malformed JSON: expected one JSON object per message' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, error: 'expected a JSON object with a "type" field' };
  }
  const type = (value as { type?: unknown }).type;
  if (typeof type !== 'string') {
    return { ok: false, error: `"type" must be a string, one of: ${CLIENT_TYPES}` };
  }
  if (!Object.hasOwn(clientSchemas, type)) {
    return {
      ok: false,
      error: `unknown message type "${type.slice(0, 40)}": expected one of ${CLIENT_TYPES}`,
    };
  }
  const result = clientSchemas[type as keyof typeof clientSchemas].safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const where = issue.path.length > 0 ? issue.path.join('.') : 'message';
    return { ok: false, error: `${type}: ${where}: ${issue.message}` };
  }
  return { ok: true, message: result.data };
}
