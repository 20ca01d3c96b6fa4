/** One event as sent, with its place in the server's event order and the stream it is about. */
interface KeptEvent {
  seq: number;
  streamId?: string;
  /** The encoded message, marked `replayed: true`. */
  data: Buffer;
}

/**
 * The latest events, replayed to a client when it subscribes: a viewer who connects after a failure
 * still learns its cause. Bounded by count; a removed stream's events leave with it.
 */
export class EventHistory {
  private readonly events: KeptEvent[] = [];
  private seq = 0;

  constructor(private readonly limit: number) {}

  /** The sequence number the next event will get: a client joining now has seen none before it. */
  get next(): number {
    return this.seq;
  }

  add(streamId: string | undefined, replayData: Buffer): void {
    this.events.push({ seq: this.seq++, streamId, data: replayData });
    if (this.events.length > this.limit) this.events.shift();
  }

  forget(streamId: string): void {
    for (let i = this.events.length - 1; i >= 0; i--)
      if (this.events[i]!.streamId === streamId) this.events.splice(i, 1);
  }

  /** The kept events `had` says the client has not seen, oldest first. */
  unseen(had: (e: { seq: number; streamId?: string }) => boolean): KeptEvent[] {
    return this.events.filter((e) => !had(e));
  }
}
