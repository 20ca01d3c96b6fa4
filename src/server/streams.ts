import type { StreamInfo } from './protocol.js';

/** A refused control request; `status` is what HTTP answers (the WebSocket reply carries it too). */
export class StreamRequestError extends Error {
  constructor(
    readonly status: 400 | 404 | 409 | 503,
    message: string,
  ) {
    super(message);
    this.name = 'StreamRequestError';
  }
}

/**
 * What the server needs from a pipeline to add and remove streams at run time. The controller
 * validates requests and throws StreamRequestError (400 bad shape or URL, 404 unknown id, 409
 * duplicate id); anything else thrown is answered 500.
 */
export interface StreamController {
  list(): StreamInfo[];
  get(id: string): StreamInfo | undefined;
  /** `request` is the parsed JSON body, or a WebSocket message without its `type`. */
  add(request: unknown): Promise<StreamInfo>;
  remove(id: string): Promise<void>;
}

/** Runs one control call and turns its outcome into a status and a JSON-able body. */
export async function runControl<T>(
  fn: () => Promise<T> | T,
): Promise<{ ok: true; value: T } | { ok: false; status: number; message: string }> {
  try {
    return { ok: true, value: await fn() };
  } catch (err) {
    if (err instanceof StreamRequestError) return { ok: false, status: err.status, message: err.message };
    return { ok: false, status: 500, message: `internal error: ${(err as Error)?.message ?? String(err)}` };
  }
}
