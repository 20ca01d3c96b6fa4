import {
  SourceRefusedError,
  StreamConflictError,
  StreamLimitError,
  StreamNotFoundError,
  StreamRequestError,
} from '../errors.js';
import type { StreamInfo } from './protocol.js';

/**
 * What the server needs from a pipeline to add and remove streams at run time. The controller
 * validates requests and throws the typed errors of src/errors.ts (see `controlStatus`); anything
 * else thrown is answered 500.
 */
export interface StreamController {
  list(): StreamInfo[];
  get(id: string): StreamInfo | undefined;
  /** `request` is the parsed JSON body, or a WebSocket message without its `type`. */
  add(request: unknown): Promise<StreamInfo>;
  remove(id: string): Promise<void>;
}

/** The HTTP status (also carried by WebSocket error replies) and the metrics reason of a refused control request. */
export function controlStatus(err: unknown): { status: number; reason?: string } {
  if (err instanceof StreamRequestError) return { status: 400, reason: 'bad-request' };
  if (err instanceof SourceRefusedError) return { status: 400, reason: 'source' };
  if (err instanceof StreamNotFoundError) return { status: 404 };
  if (err instanceof StreamConflictError) return { status: 409 };
  if (err instanceof StreamLimitError) return { status: 429, reason: 'stream-limit' };
  return { status: 500 };
}

export type ControlResult<T> =
  | { ok: true; value: T }
  | { ok: false; status: number; reason?: string; message: string };

/** Runs one control call and turns its outcome into a status and a JSON-able body. */
export async function runControl<T>(fn: () => Promise<T> | T): Promise<ControlResult<T>> {
  try {
    return { ok: true, value: await fn() };
  } catch (err) {
    const { status, reason } = controlStatus(err);
    const message =
      status === 500 ? `internal error: ${(err as Error)?.message ?? String(err)}` : (err as Error).message;
    return { ok: false, status, ...(reason && { reason }), message };
  }
}
