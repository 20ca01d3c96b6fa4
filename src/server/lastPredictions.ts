import type { PredictionMessage } from './protocol.js';

/** How often a stream nobody watches still gets a thumbnail, so that a later viewer sees an image. */
export const UNWATCHED_THUMBNAIL_MS = 5000;

/**
 * Each stream's latest prediction and latest thumbnail, sent to a client when it subscribes: a
 * viewer who arrives after a file ended (or reloads the page) still sees what it showed last.
 * One of each per stream; a removed stream's leave with it.
 */
export class LastPredictions {
  private readonly predictions = new Map<string, PredictionMessage>();
  private readonly thumbnails = new Map<string, { url: string; atMs: number }>();

  keep(message: PredictionMessage, nowMs = performance.now()): void {
    const { thumbnail, ...rest } = message;
    this.predictions.set(message.streamId, rest);
    if (thumbnail !== undefined) this.thumbnails.set(message.streamId, { url: thumbnail, atMs: nowMs });
  }

  /** True when the stream has no thumbnail kept, or only one older than `ms`. */
  thumbnailOlderThan(streamId: string, ms: number, nowMs = performance.now()): boolean {
    const t = this.thumbnails.get(streamId);
    return t === undefined || nowMs - t.atMs >= ms;
  }

  /** The stream's latest prediction with its latest thumbnail, marked as replayed; undefined if none. */
  replay(streamId: string): (PredictionMessage & { replayed: true }) | undefined {
    const p = this.predictions.get(streamId);
    if (!p) return undefined;
    const thumbnail = this.thumbnails.get(streamId)?.url;
    return { ...p, ...(thumbnail !== undefined && { thumbnail }), replayed: true };
  }

  get streams(): string[] {
    return [...this.predictions.keys()];
  }

  forget(streamId: string): void {
    this.predictions.delete(streamId);
    this.thumbnails.delete(streamId);
  }
}
