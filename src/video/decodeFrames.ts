import { Observable } from 'rxjs';
import { FfmpegNotFoundError, OptionError, VideoSourceError } from '../errors.js';
import { type Logger, silentLogger } from '../util/logger.js';
import { isOneOf } from '../util/one-of.js';
import {
  decodeArgs,
  type FrameSize,
  frameBytes,
  imageSequence,
  normalizeSize,
  PIXEL_FORMATS,
  type PixelFormat,
  type ResizeMode,
} from './args.js';
import { BufferPool } from './bufferPool.js';
import type { SourceEventHandler } from './events.js';
import { exitFailure } from './exitReason.js';
import { type FfmpegHandle, resolveFfmpeg } from './ffmpeg.js';
import { FfmpegProcess } from './ffmpegProcess.js';
import { type DropPolicy, FlowControl } from './flowControl.js';
import type { Frame, FrameColor, SkippedFrame } from './frame.js';
import { type AssembledFrame, FrameAssembler } from './frameAssembler.js';
import { FrameClock } from './frameClock.js';
import { FrameSampler, type SampleOptions, selectExpression } from './frameSampler.js';
import { type DecodePath, HWACCELS, type Hwaccel, isNvdecFailure, startingPath } from './hwaccel.js';
import { ImageFiles } from './imageFiles.js';
import { type ImageLinks, linkImages } from './imageLinks.js';
import { PooledFrame } from './pooledFrame.js';
import { rtspTransportHint } from './rtspTransport.js';
import { SelectedFrames } from './selectedFrames.js';
import { resolveSource, type VideoSource } from './source.js';

export type { DropPolicy } from './flowControl.js';

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
  /**
   * Live sources: frames kept waiting for the consumer before the policy drops one (default 1, or
   * 128 with `maxQueuedMs`, where it only caps memory).
   */
  maxQueued?: number;
  /**
   * Live sources: frames waiting may span this much media time (ptsMs) before the policy drops one
   * (default 0: by count only). For bursty sources: HLS delivers a segment at once, and a burst the
   * consumer absorbs before the next one should not lose frames (openSource sets it for HLS).
   */
  maxQueuedMs?: number;
  /**
   * Keep only these frames (every Nth, or at most fps per second of stream time), decided before
   * flow control: a burst (an HLS segment arrives at once) is thinned to the frames wanted before
   * the drop policy looks at it, so the policy never drops a wanted frame for an unwanted one.
   */
  sample?: SampleOptions;
  /**
   * Told of each frame `sample` left out (already counted in `frames`, never emitted). Where ffmpeg
   * does the sampling (the CPU path, ffmpeg 5 on), it is told when the next kept frame or the end
   * comes, so a feed's liveness is better read from `onDecoded`.
   */
  onSkip?: (frame: SkippedFrame) => void;
  /** Told of each frame decoded, kept or not: a sparsely sampled feed is still alive. */
  onDecoded?: () => void;
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
  /**
   * Where to decode (default 'none', the CPU). 'cuda': NVDEC, scaling on the GPU, only the
   * model-size frame comes back; a stream NVDEC cannot take fails with a VideoSourceError saying
   * so. 'auto': cuda when this ffmpeg has it and a 1-frame probe decode works (probed once per
   * process), else the CPU; a stream that fails on NVDEC before its first frame (a codec or profile
   * NVDEC lacks, 4:4:4, no free session) is restarted on the CPU with one 'warning' event.
   * Image folders and globs always decode on the CPU.
   */
  hwaccel?: Hwaccel;
  /**
   * 'rgb' (default): RGB24 frames. 'nv12': NV12 frames (half the bytes), with `color` from the
   * stream's description (BT.709 or BT.601; limited range on the CPU path, the stream's own on NVDEC).
   * Image folders and globs always give RGB.
   */
  pixelFormat?: PixelFormat;
  /**
   * Decode only keyframes (`-skip_frame nokey`, NVDEC too): far less decoding for sparse sampling,
   * but the frames are wherever the encoder put keyframes (often every 2-10 s), not at a chosen rate.
   * Timestamps stay the stream's own; `index` counts the keyframes decoded.
   */
  keyframesOnly?: boolean;
  logger?: Logger;
}

/**
 * Decodes a video source into raw frames of the model's size (RGB24, or NV12 on request). Nothing starts before
 * subscription; unsubscribing stops ffmpeg. Errors are VideoSourceError naming the input and reason.
 *
 * Ownership: each frame's `rgb` is a pooled buffer lent to the consumer until `frame.release()`.
 * Frames are matched to showinfo's pts lines on stderr one to one (`-fps_mode passthrough` keeps
 * one output frame per decoded frame), so `ptsMs` is the stream's own timestamp, VFR included,
 * relative to the start of the stream as ffmpeg presents it.
 *
 * The parts: FfmpegProcess (the child, its pipes), FrameAssembler (bytes and pts lines to frames),
 * FrameClock (ptsMs), FlowControl (pause or drop), exitFailure (what an exit means). This function
 * wires them to the subscriber and reports events.
 */
export function decodeFrames(source: VideoSource | string, options: DecodeOptions): Observable<Frame> {
  return new Observable<Frame>((subscriber) => {
    const src = resolveSource(source);
    const size = normalizeSize(options.size);
    const requested = options.hwaccel ?? 'none';
    if (!isOneOf(HWACCELS, requested))
      throw new OptionError(`hwaccel must be 'auto', 'cuda' or 'none', got ${JSON.stringify(requested)}`, {
        input: 'hwaccel',
      });
    const askedFormat = options.pixelFormat ?? 'rgb';
    if (!isOneOf(PIXEL_FORMATS, askedFormat))
      throw new OptionError(`pixelFormat must be 'rgb' or 'nv12', got ${JSON.stringify(askedFormat)}`, {
        input: 'pixelFormat',
      });
    const log = options.logger ?? silentLogger;
    const onEvent = options.onEvent;
    const maxUnreleased = options.maxUnreleased ?? Number.POSITIVE_INFINITY;
    const maxQueuedMs = src.live ? Math.max(0, options.maxQueuedMs ?? 0) : 0;
    const maxQueued = Math.max(1, options.maxQueued ?? (maxQueuedMs > 0 ? 128 : 1));
    const poolSize = Number.isFinite(maxUnreleased) ? maxUnreleased + maxQueued + 2 : 16;
    const clock = new FrameClock(src.live);
    const sampler = options.sample && new FrameSampler(options.sample);
    let ffmpeg: FfmpegProcess | undefined;
    // Both settled in start(), once the source is looked at (images stay RGB and on the CPU).
    let pool: BufferPool | undefined;
    let assembler: FrameAssembler | undefined;
    let path: DecodePath = 'none';
    let pixelFormat: PixelFormat = 'rgb';
    let images: ImageFiles | undefined;
    let links: ImageLinks | undefined; // src.files: the private folder ffmpeg reads them through
    let readSrc = src; // what ffmpeg is given: the source, or the links to its checked images
    const unlink = () => {
      void links?.dispose().catch(() => {});
      links = undefined;
    };
    let decoded = 0;
    // Where ffmpeg samples: each output frame's decoded index, and the frames it left out.
    let selected: SelectedFrames | undefined;
    let attempt = 0;
    let closed = false; // unsubscribed or terminated
    let terminal: { error?: Error } | undefined; // held until flow control has nothing waiting
    let stopStats: (() => void) | undefined;

    const fail = (reason: string, cause?: unknown) =>
      new VideoSourceError(`video source ${src.input}: ${reason}`, { input: src.input, cause });

    const flow = new FlowControl<PooledFrame>({
      maxUnreleased,
      maxQueued,
      maxQueuedMs,
      timeOf: (frame) => frame.ptsMs,
      policy: src.live ? (options.policy ?? 'drop-oldest') : 'block',
      emit: (frame) => {
        frame.emitted = true;
        subscriber.next(frame);
      },
      pause: () => ffmpeg?.pause(),
      resume: () => ffmpeg?.resume(),
      idle: () => {
        if (terminal) finish();
      },
    });

    const onRelease = (frame: PooledFrame) => {
      pool?.release(frame.rgb);
      if (frame.emitted && !closed) flow.released();
    };

    /** NV12 frames' colour: the stream's matrix; the range NVDEC keeps, or the limited range the CPU path pins. */
    const frameColor = (): FrameColor | undefined => {
      if (pixelFormat !== 'nv12') return undefined;
      const c = ffmpeg?.stderr.inputColor ?? { matrix: 'bt601', range: 'limited' };
      return path === 'cuda' ? c : { matrix: c.matrix, range: 'limited' };
    };

    const onFrame = ({ pixels, ptsMs: pts, index }: AssembledFrame) => {
      if (closed) {
        pool?.release(pixels);
        return;
      }
      const now = Date.now();
      const ptsMs = clock.ptsOf(pts, now);
      if (!selected) options.onDecoded?.();
      const frame = new PooledFrame(
        src.id,
        selected ? (index ?? decoded - 1) : decoded++,
        ptsMs,
        now,
        size.width,
        size.height,
        pixels,
        onRelease,
      );
      frame.file = images?.fileAt(ptsMs);
      if (pixelFormat === 'nv12') {
        frame.pixelFormat = 'nv12';
        frame.color = frameColor();
      }
      // ffmpeg's select already chose the frames with a pts; those without get the wall clock here.
      const chosen = selected !== undefined && pts !== undefined;
      if (sampler && !chosen && !sampler.keep(frame)) {
        options.onSkip?.(frame);
        frame.release();
        return;
      }
      flow.offer(frame);
    };

    const ended = (reason: 'complete' | 'error' | 'unsubscribed') =>
      onEvent?.({
        type: 'ended',
        streamId: src.id,
        atMs: Date.now(),
        reason,
        frames: decoded,
        dropped: flow.dropped,
      });

    function finish() {
      if (closed || !terminal) return;
      closed = true;
      stopStats?.();
      const err = terminal.error;
      // The cause first, then the end it led to: a log or dashboard reads them in that order.
      if (err) onEvent?.({ type: 'error', streamId: src.id, atMs: Date.now(), error: err });
      ended(err ? 'error' : 'complete');
      if (err) subscriber.error(err);
      else subscriber.complete();
    }

    const onExit = (ff: FfmpegHandle, code: number | null, signal: NodeJS.Signals | null) => {
      // Image lists never fall back to another decode path, so their links can go at the first exit.
      unlink();
      if (closed || !ffmpeg) return;
      const partial = assembler?.end() ?? 0;
      selected?.end();
      if (partial > 0)
        log.warn({ input: src.input, bytes: partial }, 'ffmpeg ended inside a frame; partial frame dropped');
      const problems = ffmpeg.stderr.problems();
      // NVDEC refused the stream before any frame came: under 'auto' the stream goes on on the CPU
      // (no frame can repeat); under 'cuda' the error says NVDEC, not the file, is what failed.
      if (path === 'cuda' && decoded === 0 && code !== 0 && isNvdecFailure(ffmpeg.stderr.lastLines(40))) {
        const why = problems.join(' | ') || `ffmpeg exited with code ${code}`;
        if (requested === 'auto') {
          const message = `NVDEC cannot decode this stream (${why}); decoding it on the CPU`;
          log.warn({ input: src.input }, message);
          onEvent?.({ type: 'warning', streamId: src.id, atMs: Date.now(), message });
          stopStats?.();
          spawn(ff, 'none').catch(startFailed);
          return;
        }
        terminal = {
          error: fail(
            `NVDEC decoding (hwaccel 'cuda') failed: ${why}; use hwaccel 'auto' to fall back to the CPU, or 'none'`,
          ),
        };
        if (flow.drained) finish();
        return;
      }
      const reason = exitFailure({
        code,
        signal,
        decoded,
        problems,
        decodeErrors: ffmpeg.stderr.decodeErrors,
        images: images && { missing: images.missing(), total: images.files.length },
        strict: options.strict !== false,
        live: src.live,
        loop: src.loop === true,
        fromPipe: src.kind === 'stdin',
      });
      const hint = reason && rtspTransportHint(src.input, src.rtspTransport, ffmpeg.stderr.problems());
      terminal = { error: reason === undefined ? undefined : fail(reason + (hint ?? '')) };
      if (flow.drained) finish();
    };

    const spawn = async (ff: FfmpegHandle, on: DecodePath) => {
      path = on;
      // Sampling in ffmpeg spares the scaling and piping of every frame left out. Its tap needs
      // showinfo's checksum=0 (ffmpeg 5); NVDEC keeps sampling here (select on CUDA frames is untried).
      const select =
        sampler && path === 'none' && ff.major >= 5
          ? selectExpression(options.sample as SampleOptions)
          : undefined;
      selected = select
        ? new SelectedFrames(({ index, ptsMs }) => {
            if (!closed) options.onSkip?.({ streamId: src.id, index, ptsMs: ptsMs ?? Number.NaN });
          })
        : undefined;
      const args = await decodeArgs(readSrc, ff, {
        size,
        resize: options.resize ?? 'squash',
        scaleFlags: options.scaleFlags,
        threads: options.threads,
        path,
        pixelFormat,
        keyframesOnly: options.keyframesOnly,
        select,
      });
      if (closed) return unlink();
      const bytes = frameBytes(size, pixelFormat);
      pool ??= new BufferPool(bytes, poolSize);
      assembler = new FrameAssembler(bytes, () => (pool as BufferPool).acquire(), onFrame);
      log.debug({ input: src.input, args }, 'spawning ffmpeg');
      const proc = new FfmpegProcess(ff.path, args, {
        stdin: src.stream ?? (src.kind === 'stdin' ? process.stdin : undefined),
        processGroup: options.processGroup,
        onStdout: (chunk) => assembler?.write(chunk),
        onPts: (ptsMs, key) => assembler?.pts(ptsMs, selected?.selected(key)),
        onDecoded: selected
          ? (ptsMs, key) => {
              selected?.tapped(decoded++, ptsMs, key);
              // An image left out was still decoded: it is not among those that could not be.
              if (ptsMs !== undefined) images?.fileAt(ptsMs);
              if (!closed) options.onDecoded?.();
            }
          : undefined,
        onExit: (code, signal) => {
          if (ffmpeg === proc) onExit(ff, code, signal);
        },
        onSpawnError: (err) => {
          unlink();
          if (closed) return;
          terminal = { error: fail(`could not run ffmpeg (${ff.path}): ${err.message}`, err) };
          finish();
        },
      });
      ffmpeg = proc;
      onEvent?.({ type: 'started', streamId: src.id, atMs: Date.now(), pid: proc.pid, attempt: attempt++ });
      stopStats = startStats(options.statsIntervalMs ?? 1000, onEvent, src.id, () => ({
        frames: decoded,
        emitted: flow.emitted,
        dropped: flow.dropped,
      }));
    };

    const start = async () => {
      const ff = options.ffmpeg ?? (await resolveFfmpeg());
      // An explicit list of images (the stream API's checked folder or glob) is read through links
      // to exactly those files; ffmpeg lists no folder and expands no glob of its own.
      if (src.files) {
        links = await linkImages(src.input, src.files);
        if (closed) return unlink();
        readSrc = { ...src, kind: 'images', input: links.dir };
      }
      const files = src.files ?? (await imageSequence(src));
      if (closed) return unlink();
      if (files && files.length > 0) images = new ImageFiles(files, src.framerate ?? 25);
      const isImages = images !== undefined || readSrc.kind === 'images';
      pixelFormat = isImages ? 'rgb' : askedFormat;
      await spawn(ff, isImages ? 'none' : await startingPath(requested, ff));
    };

    const startFailed = (err: unknown) => {
      unlink();
      if (closed) return;
      terminal = {
        error:
          err instanceof VideoSourceError || err instanceof FfmpegNotFoundError
            ? err
            : fail(String((err as Error)?.message ?? err), err),
      };
      finish();
    };

    start().catch(startFailed);

    return () => {
      const wasOpen = !closed;
      closed = true;
      stopStats?.();
      flow.stop();
      ffmpeg?.stop(options.killGraceMs ?? 2000);
      // Without a running ffmpeg nobody else removes the links (onExit does once it has exited).
      if (!ffmpeg) unlink();
      if (wasOpen) ended('unsubscribed');
    };
  });
}

/** Emits a 'stats' event every `periodMs` (none without a handler or with period 0); returns the stop. */
function startStats(
  periodMs: number,
  onEvent: SourceEventHandler | undefined,
  streamId: string,
  counts: () => { frames: number; emitted: number; dropped: number },
): (() => void) | undefined {
  if (!onEvent || periodMs <= 0) return undefined;
  let last = { at: Date.now(), frames: 0 };
  const timer = setInterval(() => {
    const now = Date.now();
    const c = counts();
    const fps = ((c.frames - last.frames) * 1000) / Math.max(1, now - last.at);
    last = { at: now, frames: c.frames };
    onEvent({ type: 'stats', streamId, atMs: now, ...c, fps });
  }, periodMs);
  timer.unref?.();
  return () => clearInterval(timer);
}
