/** What happens to a source over its life; observe it to log, export metrics or show a dashboard. */
/** `error` carries a VideoSourceError (or FfmpegNotFoundError) naming the input and the reason. */
export type SourceEvent =
  | { type: 'started'; streamId: string; atMs: number; pid: number | undefined; attempt: number }
  | {
      type: 'stats';
      streamId: string;
      atMs: number;
      /** Frames decoded, emitted downstream and dropped (live policies), since the source started. */
      frames: number;
      emitted: number;
      dropped: number;
      /** Decoded frames per second over the last interval. */
      fps: number;
    }
  | { type: 'error'; streamId: string; atMs: number; error: Error }
  /** Something went wrong and was worked around (NVDEC refused a stream under hwaccel 'auto': it went on on the CPU). */
  | { type: 'warning'; streamId: string; atMs: number; message: string }
  | { type: 'reconnecting'; streamId: string; atMs: number; attempt: number; delayMs: number }
  /**
   * The stall watchdog gave up on a connection: no first frame within the first-frame timeout, or
   * no frame for the no-frame timeout. Its ffmpeg (process group) was killed; a restart follows.
   */
  | {
      type: 'stalled';
      streamId: string;
      atMs: number;
      kind: 'first-frame' | 'no-frame';
      waitedMs: number;
      pid: number | undefined;
    }
  /** The first frame after one or more failed or stalled connections: the source is back. */
  | { type: 'recovered'; streamId: string; atMs: number; downMs: number; restarts: number }
  | {
      type: 'ended';
      streamId: string;
      atMs: number;
      reason: 'complete' | 'error' | 'unsubscribed';
      frames: number;
      dropped: number;
    };

export type SourceEventHandler = (event: SourceEvent) => void;
