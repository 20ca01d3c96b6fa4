import type { ChildProcess } from 'node:child_process';
import { Observable } from 'rxjs';
import { FfmpegNotFoundError, VideoSourceError } from '../errors.js';
import { type Logger, silentLogger } from '../util/logger.js';
import { decodeArgs, type FrameSize, imageSequence, normalizeSize, type ResizeMode } from '../video/args.js';
import { BufferPool } from '../video/bufferPool.js';
import type { SourceEventHandler } from '../video/events.js';
import { type FfmpegHandle, resolveFfmpeg } from '../video/ffmpeg.js';
import type { Frame } from '../video/frame.js';
import { resolveSource, type VideoSource } from '../video/source.js';
import { killFfmpeg, spawnFfmpeg } from '../video/spawn.js';
import { classifyFailure, StderrLog } from '../video/stderrLog.js';

export type DropPolicy = 'drop-oldest' | 'drop-newest' | 'block';

export interface DecodeOptions {
  /** Output frame size (the model's input): a square side or {width, height}. */
  size: number | FrameSize;
  /** How the picture is fitted into `size` (default 'squash'). All scaling happens inside ffmpeg. */
  resize?: ResizeMode;
  /** swscale algorithm (default 'bilinear'). */
  scaleFlags?: string;
  /** A resolved ffmpeg; by default `resolveFfmpeg()` (memoised). */
  ffmpeg?: FfmpegHandle;
  /**
   * Flow control: at most this many emitted frames may be unreleased (see Frame.release). Beyond it,
   * a non-live source pauses ffmpeg's stdout (nothing is lost) and a live source queues then drops
   * per `policy`. Default: Infinity (no flow control; right for consumers that never release).
   */
  maxUnreleased?: number;
  /** What a live source does when the consumer is behind (default 'drop-oldest'); non-live sources always block. */
  policy?: DropPolicy;
  /** Live sources: frames kept waiting for the consumer before the policy drops one (default 1). */
  maxQueued?: number;
  /** Error out, after the frames that did decode, when a file exits cleanly but ffmpeg reported decode errors (default true). */
  strict?: boolean;
  /** Delay between SIGTERM and SIGKILL when stopping ffmpeg (default 2000 ms). */
  killGraceMs?: number;
  /** Run ffmpeg in a process group of its own, stopped as a whole (default false; openSource sets it for live sources). */
  processGroup?: boolean;
  onEvent?: SourceEventHandler;
  /** Period of 'stats' events (default 1000 ms; 0 disables). */
  statsIntervalMs?: number;
  /** Decoder threads (default: ffmpeg's choice). */
  threads?: number;
  logger?: Logger;
}

/**
 * Decodes a video source into raw RGB24 frames of the model's size. Nothing starts before
 * subscription; unsubscribing stops ffmpeg. Errors are VideoSourceError naming the input and reason.
 *
 * Ownership: each frame's `rgb` is a pooled buffer lent to the consumer until `frame.release()`.
 * Frames are matched to showinfo's pts lines on stderr one to one (`-fps_mode passthrough` keeps
 * one output frame per decoded frame), so `ptsMs` is the stream's own timestamp, VFR included,
 * relative to the start of the stream as ffmpeg presents it.
 */
export function decodeFrames(source: VideoSource | string, options: DecodeOptions): Observable<Frame> {
  return new Observable<Frame>((subscriber) => {
    const src = resolveSource(source);
    const size = normalizeSize(options.size);
    const frameBytes = size.width * size.height * 3;
    const log = options.logger ?? silentLogger;
    const maxUnreleased = options.maxUnreleased ?? Number.POSITIVE_INFINITY;
    const policy: DropPolicy = src.live ? (options.policy ?? 'drop-oldest') : 'block';
    const maxQueued = Math.max(1, options.maxQueued ?? 1);
    const onEvent = options.onEvent;
    const pool = new BufferPool(
      frameBytes,
      Number.isFinite(maxUnreleased) ? maxUnreleased + maxQueued + 2 : 16,
    );

    let child: ChildProcess | undefined;
    let closed = false; // unsubscribed or terminated
    let filling: Uint8Array | undefined;
    let fillOffset = 0;
    const completed: Uint8Array[] = []; // frames read from stdout whose pts line has not arrived yet
    const ptsQueue: (number | undefined)[] = []; // pts lines whose frame bytes have not arrived yet
    const waiting: PooledFrame[] = []; // frames ready but held back by flow control
    let decoded = 0;
    let emitted = 0;
    let dropped = 0;
    let unreleased = 0;
    let paused = false;
    let lastPts: number | undefined;
    let lastDelta = 0;
    let firstWall: number | undefined;
    let terminal: { error?: Error } | undefined; // held until `waiting` drains
    let statsTimer: ReturnType<typeof setInterval> | undefined;
    let lastStats = { at: Date.now(), frames: 0 };
    // Image folders and globs: the files in ffmpeg's order, and those a frame came from.
    let images: string[] | undefined;
    const imagesSeen = new Set<string>();

    const stderr = new StderrLog((pts) => {
      ptsQueue.push(pts);
      pair();
    });

    const fail = (reason: string, cause?: unknown) =>
      new VideoSourceError(`video source ${src.input}: ${reason}`, { input: src.input, cause });

    const makeFrame = (buf: Uint8Array, pts: number | undefined): PooledFrame => {
      const now = Date.now();
      firstWall ??= now;
      let ptsMs: number;
      if (pts !== undefined) {
        if (lastPts !== undefined && pts > lastPts) lastDelta = pts - lastPts;
        ptsMs = pts;
      } else if (src.live) {
        ptsMs = now - firstWall; // no timestamps (some MJPEG feeds): wall time since the first frame
      } else {
        ptsMs = lastPts === undefined ? 0 : lastPts + lastDelta;
      }
      lastPts = ptsMs;
      const frame = new PooledFrame(src.id, decoded++, ptsMs, now, size.width, size.height, buf, onRelease);
      if (images && images.length > 0) {
        // image2 numbers images from pts 0 at its frame rate, counting those it could not decode.
        frame.file = images[Math.round((ptsMs * (src.framerate ?? 25)) / 1000) % images.length];
        if (frame.file !== undefined) imagesSeen.add(frame.file);
      }
      return frame;
    };

    function onRelease(frame: PooledFrame) {
      pool.release(frame.rgb);
      if (frame.emitted) {
        unreleased--;
        flush();
      }
    }

    const emit = (frame: PooledFrame) => {
      frame.emitted = true;
      unreleased++;
      emitted++;
      subscriber.next(frame);
    };

    const deliver = (frame: PooledFrame) => {
      if (waiting.length === 0 && unreleased < maxUnreleased) {
        emit(frame);
        return;
      }
      if (policy === 'block') {
        waiting.push(frame);
        pause();
        return;
      }
      if (waiting.length >= maxQueued) {
        dropped++;
        if (policy === 'drop-newest') {
          frame.release();
          return;
        }
        waiting.shift()?.release();
      }
      waiting.push(frame);
    };

    function pair() {
      while (completed.length > 0 && ptsQueue.length > 0 && !closed) {
        const buf = completed.shift() as Uint8Array;
        deliver(makeFrame(buf, ptsQueue.shift()));
      }
    }

    function flush() {
      while (!closed && waiting.length > 0 && unreleased < maxUnreleased)
        emit(waiting.shift() as PooledFrame);
      if (closed) return;
      if (waiting.length === 0) {
        if (terminal) finish();
        else resume();
      }
    }

    function pause() {
      if (!paused && child?.stdout) {
        paused = true;
        child.stdout.pause();
      }
    }

    function resume() {
      if (paused && child?.stdout) {
        paused = false;
        child.stdout.resume();
      }
    }

    function finish() {
      if (closed || !terminal) return;
      closed = true;
      stopStats();
      const err = terminal.error;
      // The cause first, then the end it led to: a log or dashboard reads them in that order.
      if (err) onEvent?.({ type: 'error', streamId: src.id, atMs: Date.now(), error: err });
      onEvent?.({
        type: 'ended',
        streamId: src.id,
        atMs: Date.now(),
        reason: err ? 'error' : 'complete',
        frames: decoded,
        dropped,
      });
      if (err) subscriber.error(err);
      else subscriber.complete();
    }

    const onData = (chunk: Buffer) => {
      let off = 0;
      while (off < chunk.length) {
        if (!filling) {
          filling = pool.acquire();
          fillOffset = 0;
        }
        const n = Math.min(frameBytes - fillOffset, chunk.length - off);
        filling.set(chunk.subarray(off, off + n), fillOffset);
        fillOffset += n;
        off += n;
        if (fillOffset === frameBytes) {
          completed.push(filling);
          filling = undefined;
        }
      }
      pair();
    };

    const onClose = (code: number | null, signal: NodeJS.Signals | null) => {
      stderr.end();
      if (closed) return;
      // Frames whose pts line never came (should not happen): keep them, with extrapolated times.
      while (completed.length > 0) {
        ptsQueue.push(undefined);
        pair();
      }
      if (filling && fillOffset > 0)
        log.warn(
          { input: src.input, bytes: fillOffset },
          'ffmpeg ended inside a frame; partial frame dropped',
        );
      const problems = stderr.problems();
      const explain = (fallback: string) => {
        const reason = classifyFailure(problems) ?? fallback;
        return problems.length > 0 ? `${reason} (ffmpeg: ${problems.join(' | ')})` : reason;
      };
      let error: VideoSourceError | undefined;
      if (code !== 0) {
        const how = signal ? `ffmpeg was killed by ${signal}` : `ffmpeg exited with code ${code}`;
        error = fail(decoded > 0 ? `stopped after ${decoded} frames: ${explain(how)}` : explain(how));
      } else if (decoded === 0) {
        error = fail(explain('no video frames could be decoded'));
      } else if (options.strict !== false && !src.loop && images?.some((f) => !imagesSeen.has(f))) {
        const bad = images.filter((f) => !imagesSeen.has(f));
        const named = bad.slice(0, 5).join(', ') + (bad.length > 5 ? ` and ${bad.length - 5} more` : '');
        error = fail(`${bad.length} of ${images.length} images could not be decoded: ${named}`);
      } else if (options.strict !== false && !src.live && stderr.decodeErrors.length > 0) {
        const errs = stderr.decodeErrors.slice(-3).map((l) => l.replace(/^.*\[(error|fatal)\] /, ''));
        error = fail(
          `decoded ${decoded} frames, then hit ${/ended prematurely|partial file|truncat/i.test(errs.join(' ')) ? 'truncated data' : 'corrupt data'} (ffmpeg: ${errs.join(' | ')})`,
        );
      }
      terminal = { error };
      if (waiting.length === 0) finish();
    };

    const startStats = () => {
      const period = options.statsIntervalMs ?? 1000;
      if (!onEvent || period <= 0) return;
      statsTimer = setInterval(() => {
        const now = Date.now();
        const fps = ((decoded - lastStats.frames) * 1000) / Math.max(1, now - lastStats.at);
        lastStats = { at: now, frames: decoded };
        onEvent({ type: 'stats', streamId: src.id, atMs: now, frames: decoded, emitted, dropped, fps });
      }, period);
      statsTimer.unref?.();
    };
    const stopStats = () => {
      if (statsTimer) clearInterval(statsTimer);
      statsTimer = undefined;
    };

    const start = async () => {
      const ff = options.ffmpeg ?? (await resolveFfmpeg());
      const args = await decodeArgs(src, ff, {
        size,
        resize: options.resize ?? 'squash',
        scaleFlags: options.scaleFlags,
        threads: options.threads,
      });
      images = await imageSequence(src);
      if (closed) return;
      log.debug({ input: src.input, args }, 'spawning ffmpeg');
      const feed = src.stream ?? (src.kind === 'stdin' ? process.stdin : undefined);
      const proc = spawnFfmpeg(ff.path, args, feed, { processGroup: options.processGroup });
      child = proc;
      proc.on('error', (err) => {
        if (closed) return;
        terminal = { error: fail(`could not run ffmpeg (${ff.path}): ${err.message}`, err) };
        finish();
      });
      proc.stdout?.on('data', onData);
      proc.stderr?.setEncoding('utf8');
      proc.stderr?.on('data', (s: string) => stderr.write(s));
      proc.on('close', onClose);
      onEvent?.({ type: 'started', streamId: src.id, atMs: Date.now(), pid: proc.pid, attempt: 0 });
      startStats();
    };

    start().catch((err: unknown) => {
      if (closed) return;
      terminal = {
        error:
          err instanceof VideoSourceError || err instanceof FfmpegNotFoundError
            ? err
            : fail(String((err as Error)?.message ?? err), err),
      };
      finish();
    });

    return () => {
      const wasOpen = !closed;
      closed = true;
      stopStats();
      for (const f of waiting.splice(0)) f.release();
      if (child) killFfmpeg(child, options.killGraceMs ?? 2000);
      if (wasOpen)
        onEvent?.({
          type: 'ended',
          streamId: src.id,
          atMs: Date.now(),
          reason: 'unsubscribed',
          frames: decoded,
          dropped,
        });
    };
  });
}

/** A frame whose pixels live in a pool buffer; `emitted` tells release() whether it counted against flow control. */
class PooledFrame implements Frame {
  emitted = false;
  file?: string;
  private released = false;
  constructor(
    readonly streamId: string,
    public index: number,
    readonly ptsMs: number,
    readonly receivedAtMs: number,
    readonly width: number,
    readonly height: number,
    readonly rgb: Uint8Array,
    private readonly onRelease: (f: PooledFrame) => void,
  ) {}

  release(): void {
    if (this.released) return;
    this.released = true;
    this.onRelease(this);
  }
}
