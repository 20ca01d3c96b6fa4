import { EngineError, GpuUnavailableError } from '../errors.js';
import { fromHalfArray } from '../util/half.js';
import type { Logger } from '../util/logger.js';
import type { ViTConfig } from './config.js';
import { FramesBatch } from './direct-batch.js';
import { encodeDispatches, forwardParts } from './forward-plan.js';
import { BufferUsage, type GpuContext, MapMode } from './gpu.js';
import { checkBatchRequest, checkInput, frameColors, frameElements, inputFormat } from './input.js';
import { packYuvColors, YUV_COLOR_BYTES } from './kernels/preprocess.js';
import type { Dispatch } from './kernels/source.js';
import { timeComputePass } from './pass-timer.js';
import type { BatchRequest, DirectBatch, Engine, EngineInput, InputFormat, YuvColor } from './types.js';

/** The I/O buffers every GPU engine's slot has, whatever its activations. */
export interface SlotIO {
  /** uint8 frames as uploaded: RGB, or YUV 4:2:0 in its first half. */
  rgb: GPUBuffer;
  /** Created on first use of float pixel input. */
  pixels?: GPUBuffer;
  /** Created on first use of YUV input: each frame's colour (packYuvColors), written per batch. */
  yuvColors?: GPUBuffer;
  logits: GPUBuffer;
  readback: GPUBuffer;
}

/** A forward pass recorded for one slot and batch size. */
export interface RecordedPlan {
  dispatches: Dispatch[];
  uniforms: GPUBuffer[];
}

interface Slot<B, P> {
  buffers: B;
  /**
   * Mapped host-visible copy source for uint8 frames (MAP_WRITE | COPY_SRC), made on first use:
   * queue.writeBuffer of a 14 MB batch (32 frames of 384²) took 12.6 ms on the H100 — a fresh
   * staging allocation per call — against a copy out of a buffer mapped ahead of time.
   */
  staging?: GPUBuffer;
  /** Resolves when `staging` is mapped again after the copy of the previous batch. */
  stagingMapped?: Promise<void>;
  plans: Map<string, P>;
  /**
   * The forward pass and logits copy of `plan`, encoded after the slot's last submit while the
   * GPU ran it: a command buffer can be submitted once, and encoding ~100 dispatches (0.2-0.4 ms
   * of CPU) would otherwise sit between a batch-1 upload and its submit.
   */
  ready?: { plan: P; commands: ForwardCommands };
  /** The previous batch on this slot; the next one waits for it (its buffers are reused). */
  busy: Promise<unknown>;
  /** A batch begun (beginBatch) and not yet submitted: its views are into `staging`. */
  open?: FramesBatch;
}

/** A forward pass encoded for submission in two parts (see encodeForward). */
interface ForwardCommands {
  head: GPUCommandBuffer;
  tail: GPUCommandBuffer;
}

const SLOTS = 2;

/**
 * Uploads up to this size go through queue.writeBuffer (0.05 ms for one 384² frame on the H100,
 * where waiting for the staging buffer's map cost a batch-1 infer several ms); larger ones
 * through the mapped staging buffer (writeBuffer: 3.1 ms for 8 frames, 12 ms for 32; staging
 * 0.6 and 1.6 ms).
 */
const SMALL_UPLOAD = 1 << 20;

/**
 * dawn.node resolves GPU promises (mapAsync, popErrorScope) by polling with setImmediate for as
 * long as one is pending: a waiting batch keeps the main thread spinning, away from decoding and
 * the rest of the pipeline (bench/pipeline-mock.mjs with a 40 ms engine on this 2-core machine:
 * 299-318 frames/s polling against 343-357 sleeping). A plan whose fastest run took at least
 * SLEEP_FROM_MS sleeps on a timer through SLEEP_SHARE of that time before asking for its
 * results; shorter ones (batch-1 latency) ask at once. The fastest run is the GPU's own time:
 * a batch queued behind the other slot's only takes longer, so it wakes early, never late.
 */
const SLEEP_FROM_MS = 4;
const SLEEP_SHARE = 0.85;
/**
 * "Fastest" is of a plan's last this many runs, so that a GPU slowed for a while (shared with another
 * process; lavapipe on a busy CPU) is slept through too instead of polled through its extra time.
 */
const RECENT_RUNS = 8;

/**
 * The batch machinery the GPU engines share (FP32/FP16 and INT8): input checks, two slots used
 * in turn so that batch k+1 uploads and batch k-1 reads back while batch k runs, one recorded
 * plan per slot and batch size (created on first use, replayed after), one submit per batch,
 * logits read back, device loss turned into errors. Subclasses allocate a slot's buffers and
 * record its plan.
 */
export abstract class SlottedEngine<B extends SlotIO, P extends RecordedPlan> implements Engine {
  readonly backend = 'webgpu' as const;
  abstract readonly precision: Engine['precision'];
  protected readonly slots: Slot<B, P>[];
  private next = 0;
  /**
   * Submit-to-results times of each plan's last RECENT_RUNS runs without error, ms; Infinity for
   * its first run, which may include the driver's lazy work (pipeline compilation took
   * seconds on lavapipe) and would otherwise set the sleep of the runs after it.
   */
  private readonly recentMs = new WeakMap<P, number[]>();
  /**
   * When the GPU should be done with everything submitted so far (performance.now() ms, from the
   * plans' fastest times), and when the last batch's results were seen. A batch submitted while
   * the other slot's still runs starts when that one ends: its sleep counts from then, else it
   * woke after 85% of its own time and polled (dawn.node's setImmediate loop) through the rest
   * of the other's and its own (main thread busy 8.5-9 ms of each 10 ms batch, two in flight).
   */
  private queueDoneAt = 0;
  private lastSeenDoneAt = 0;
  /**
   * 'queue' (default): sleep until SLEEP_SHARE of the batch's expected GPU time after the work
   * queued before it; 'submit': counted from the batch's own submit (the earlier behaviour, kept
   * for bench/input-copy.mjs to compare).
   */
  sleepFrom: 'queue' | 'submit' = 'queue';
  protected closed = false;
  protected lostReason?: string;

  protected constructor(
    readonly gpu: GpuContext,
    readonly config: ViTConfig,
    readonly maxBatch: number,
    /** Storage type of the logits buffer. */
    private readonly logitsType: 'f16' | 'f32',
    allocate: (label: string) => B,
    protected readonly logger: Logger,
  ) {
    this.slots = Array.from({ length: SLOTS }, (_, i) => ({
      buffers: allocate(`slot${i}`),
      plans: new Map(),
      busy: Promise.resolve(),
    }));
    gpu.lost.then((info) => {
      if (this.closed) return;
      this.lostReason = `${info.reason}: ${info.message}`;
      this.logger.error({ reason: this.lostReason }, 'GPU device lost');
    });
  }

  protected abstract recordPlan(buffers: B, count: number, input: InputFormat): P;
  protected abstract destroyBuffers(buffers: B): void;
  /** Bytes of weights on the GPU, and their release at close. */
  protected abstract readonly weightBytes: number;
  protected abstract destroyWeights(): void;

  /** Bytes of GPU memory held: weights plus both slots' buffers. */
  get gpuBytes(): number {
    let n = this.weightBytes;
    for (const s of this.slots)
      for (const b of Object.values(s.buffers)) n += (b as GPUBuffer | undefined)?.size ?? 0;
    return n;
  }

  infer(input: EngineInput): Promise<Float32Array> {
    try {
      this.check(input);
    } catch (e) {
      return Promise.reject(e);
    }
    const slot = this.takeSlot();
    const run = slot.busy.then(() => this.run(slot, input));
    slot.busy = run.catch(() => undefined);
    return run;
  }

  /**
   * A batch of `count` uint8 frames written in place (DirectBatch): resolves once the next slot
   * is free and its staging buffer mapped; the slot stays taken until submit or cancel, so a
   * batch never lands in memory the GPU still reads. Two batches can be open or running at
   * once, as with infer(), whose batches share the same turn of slots.
   */
  beginBatch(request: BatchRequest): Promise<DirectBatch> {
    let frameBytes: number;
    try {
      frameBytes = this.checkRequest(request);
    } catch (e) {
      return Promise.reject(e);
    }
    const { kind, count } = request;
    const slot = this.takeSlot();
    const previous = slot.busy;
    let release!: (settled: Promise<unknown>) => void;
    slot.busy = new Promise<unknown>((resolve) => {
      release = (settled) => resolve(settled.catch(() => undefined));
    });
    return previous.then(async () => {
      try {
        if (this.closed) throw new EngineError('engine is closed');
        const range = await this.stagingRange(slot, this.uploadBytes(count * frameBytes));
        const batch = new FramesBatch(
          kind,
          count,
          frameBytes,
          range,
          request.color,
          (colors, n) => {
            slot.open = undefined;
            const run = this.execute(slot, n, { kind }, 'staging', colors);
            release(run);
            return run;
          },
          () => {
            slot.open = undefined;
            // Unmapped and mapped again: a mapping hands out each range once.
            slot.staging?.unmap();
            this.remapStaging(slot);
            release(slot.stagingMapped ?? Promise.resolve());
          },
        );
        slot.open = batch;
        return batch as DirectBatch;
      } catch (e) {
        release(Promise.resolve());
        throw e;
      }
    });
  }

  private checkRequest(request: BatchRequest): number {
    this.checkOpen();
    const what = `${this.backend} ${this.precision} engine (${this.config.name}) beginBatch`;
    return checkBatchRequest(this.config, this.maxBatch, request, what);
  }

  private takeSlot(): Slot<B, P> {
    const slot = this.slots[this.next];
    this.next = (this.next + 1) % SLOTS;
    return slot;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.slots) s.open?.cancel();
    await Promise.all(this.slots.map((s) => s.busy));
    for (const s of this.slots) {
      for (const p of s.plans.values()) for (const u of p.uniforms) u.destroy();
      await s.stagingMapped?.catch(() => undefined);
      s.staging?.destroy();
      this.destroyBuffers(s.buffers);
    }
    this.destroyWeights();
  }

  private checkOpen(): void {
    if (this.closed) throw new EngineError('engine is closed');
    if (this.lostReason)
      throw new GpuUnavailableError(`GPU device was lost (${this.lostReason}); open a new engine`);
  }

  protected check(input: EngineInput): void {
    this.checkOpen();
    checkInput(this.config, input, `${this.backend} ${this.precision} engine (${this.config.name})`);
    if (input.count > this.maxBatch)
      throw new EngineError(
        `batch of ${input.count} images: must be between 1 and maxBatch ${this.maxBatch}`,
      );
  }

  protected plan(slot: Slot<B, P>, input: EngineInput): P {
    return this.planFor(slot, input.count, inputFormat(input));
  }

  private planFor(slot: Slot<B, P>, count: number, format: InputFormat): P {
    const key = `${format.kind}/${count}`;
    let plan = slot.plans.get(key);
    if (!plan) {
      if ((format.kind === 'nv12' || format.kind === 'yuv420p') && !slot.buffers.yuvColors)
        slot.buffers.yuvColors = this.gpu.device.createBuffer({
          label: 'yuv-colors',
          size: this.maxBatch * YUV_COLOR_BYTES,
          usage: BufferUsage.STORAGE | BufferUsage.COPY_DST,
        });
      if (format.kind === 'pixels' && !slot.buffers.pixels) {
        const S = this.config.imageSize;
        slot.buffers.pixels = this.gpu.device.createBuffer({
          label: 'pixels',
          size: this.maxBatch * 3 * S * S * 4,
          usage: BufferUsage.STORAGE | BufferUsage.COPY_DST,
        });
      }
      plan = this.recordPlan(slot.buffers, count, format);
      slot.plans.set(key, plan);
    }
    return plan;
  }

  /** Copies need a 4-byte multiple; the tail word of the last frame may be padded. */
  private uploadBytes(bytes: number): number {
    return Math.ceil(bytes / 4) * 4;
  }

  /** Puts the batch's input where the plan reads it: a copy from the mapped staging buffer (uint8). */
  protected async upload(slot: Slot<B, P>, input: EngineInput, enc: GPUCommandEncoder): Promise<void> {
    this.writeColors(slot, input.kind, frameColors(input));
    if (this.staged(input)) {
      await this.fillStaging(slot, input);
      this.copyFromStaging(slot, input.data.length, enc);
    } else this.write(slot, input);
  }

  /** queue.writeBuffer: float pixels, and uint8 batches up to SMALL_UPLOAD. */
  private write(slot: Slot<B, P>, input: EngineInput): void {
    if (input.kind === 'pixels') {
      this.gpu.device.queue.writeBuffer(
        slot.buffers.pixels!,
        0,
        input.data.buffer,
        input.data.byteOffset,
        input.data.length * 4,
      );
      return;
    }
    const n = input.data.length;
    const len = this.uploadBytes(n);
    let view = input.data;
    if (view.byteOffset % 4 !== 0 || view.length < len) {
      view = new Uint8Array(len);
      view.set(input.data.subarray(0, n));
    }
    this.gpu.device.queue.writeBuffer(slot.buffers.rgb, 0, view.buffer, view.byteOffset, len);
  }

  /** A YUV batch's colours, one per frame, where the plan's from_yuv reads them (1 KiB at most). */
  private writeColors(slot: Slot<B, P>, kind: EngineInput['kind'], colors: readonly YuvColor[]): void {
    if (kind !== 'nv12' && kind !== 'yuv420p') return;
    const packed = packYuvColors(colors);
    this.gpu.device.queue.writeBuffer(
      slot.buffers.yuvColors!,
      0,
      packed.buffer,
      packed.byteOffset,
      packed.byteLength,
    );
  }

  private async fillStaging(slot: Slot<B, P>, input: EngineInput): Promise<void> {
    const n = input.data.length;
    new Uint8Array(await this.stagingRange(slot, this.uploadBytes(n))).set(input.data as Uint8Array);
  }

  /** The first `len` bytes of the slot's staging buffer, mapped (created mapped on first use). */
  private async stagingRange(slot: Slot<B, P>, len: number): Promise<ArrayBuffer> {
    if (!slot.staging) {
      slot.staging = this.gpu.device.createBuffer({
        label: 'rgb-staging',
        size: slot.buffers.rgb.size,
        usage: BufferUsage.MAP_WRITE | BufferUsage.COPY_SRC,
        mappedAtCreation: true,
      });
    } else {
      await slot.stagingMapped;
    }
    return slot.staging.getMappedRange(0, len);
  }

  private copyFromStaging(slot: Slot<B, P>, bytes: number, enc: GPUCommandEncoder): void {
    const staging = slot.staging!;
    staging.unmap();
    enc.copyBufferToBuffer(staging, 0, slot.buffers.rgb, 0, this.uploadBytes(bytes));
  }

  /** Whether a batch goes through the slot's staging buffer: uint8 frames over SMALL_UPLOAD. */
  private staged(input: EngineInput): boolean {
    return input.kind !== 'pixels' && this.uploadBytes(input.data.length) > SMALL_UPLOAD;
  }

  /** After the submit that copies out of the staging buffer: map it again for the slot's next batch. */
  protected submitted(slot: Slot<B, P>, input: EngineInput): void {
    if (this.staged(input)) this.remapStaging(slot);
  }

  private remapStaging(slot: Slot<B, P>): void {
    if (!slot.staging) return;
    const mapped = slot.staging.mapAsync(MapMode.WRITE);
    // A failed map (device lost) surfaces through the next batch's checks; never unhandled.
    mapped.catch(() => undefined);
    slot.stagingMapped = mapped;
  }

  /** infer()'s batch: staged (copied into the mapped staging buffer here) or written. */
  private async run(slot: Slot<B, P>, input: EngineInput): Promise<Float32Array> {
    const staged = this.staged(input);
    if (staged) {
      if (this.lostReason)
        throw new GpuUnavailableError(`GPU device was lost (${this.lostReason}); open a new engine`);
      await this.fillStaging(slot, input);
    }
    return this.execute(
      slot,
      input.count,
      inputFormat(input),
      staged ? 'staging' : input,
      frameColors(input),
    );
  }

  /**
   * One batch on `slot`: its input already in the mapped staging buffer (`'staging'`: copied on
   * the GPU, then mapped again for the slot's next batch) or written from `source`; `colors`,
   * one per frame, for YUV.
   */
  private async execute(
    slot: Slot<B, P>,
    count: number,
    format: InputFormat,
    source: 'staging' | EngineInput,
    colors: readonly YuvColor[],
  ): Promise<Float32Array> {
    if (this.lostReason)
      throw new GpuUnavailableError(`GPU device was lost (${this.lostReason}); open a new engine`);
    const device = this.gpu.device;
    const plan = this.planFor(slot, count, format);
    const recent = this.recentMs.get(plan);
    const fastest = recent && Math.min(...recent);
    // A validation error would otherwise surface only as logits of zero: a plan's first run fails
    // the batch instead. Later runs replay the same commands on the same buffers and skip the
    // scope (one GPU promise less to wait for).
    const firstRun = fastest === undefined;
    if (firstRun) device.pushErrorScope('validation');
    const enc = device.createCommandEncoder();
    this.writeColors(slot, format.kind, colors);
    if (source === 'staging')
      this.copyFromStaging(slot, count * frameElements(format.kind, this.config.imageSize), enc);
    else this.write(slot, source);
    const forward = slot.ready?.plan === plan ? slot.ready.commands : this.encodeForward(slot, plan, count);
    slot.ready = undefined;
    device.queue.submit([enc.finish(), forward.head]);
    const submittedAt = performance.now();
    device.queue.submit([forward.tail]);
    // The slot's next batch is most often the same size: encode its pass now, while the GPU runs.
    slot.ready = { plan, commands: this.encodeForward(slot, plan, count) };
    const known = !firstRun && Number.isFinite(fastest);
    const startsAt = this.sleepFrom === 'queue' ? Math.max(submittedAt, this.queueDoneAt) : submittedAt;
    this.queueDoneAt = known ? startsAt + (fastest as number) : submittedAt;
    if (known && (fastest as number) >= SLEEP_FROM_MS) {
      const rest = startsAt + (fastest as number) * SLEEP_SHARE - performance.now();
      if (rest >= 1) await new Promise((resolve) => setTimeout(resolve, rest));
    }
    if (source === 'staging') this.remapStaging(slot);
    const { readback } = slot.buffers;
    const bytes = this.logitsBytes(count);
    // The error scope and the readback are awaited together: one wait for the GPU, not two.
    // So is the staging buffer's map for the next batch: requested after the submit, it becomes
    // ready with the readback, but its promise alone was seen to resolve only when later GPU work
    // completed (batch 1 on the H100: 7.6 ms per infer instead of ~3).
    const [invalid, mapError] = await Promise.all([
      firstRun ? device.popErrorScope() : undefined,
      readback.mapAsync(MapMode.READ, 0, bytes).then(
        () => undefined,
        (e: Error) => e,
      ),
      slot.stagingMapped?.catch(() => undefined),
    ]);
    if (invalid) {
      if (!mapError) readback.unmap();
      throw new EngineError(`batch of ${count} failed GPU validation: ${invalid.message}`);
    }
    if (mapError)
      throw new GpuUnavailableError(
        `reading logits back failed${this.lostReason ? ` (device lost: ${this.lostReason})` : ''}: ${mapError.message}`,
        { cause: mapError },
      );
    // Its own time: from its submit, or from when the batch before it was seen done (it started
    // no later than that, so this errs short: an early wake, never a late one).
    const doneAt = performance.now();
    const began = this.sleepFrom === 'queue' ? Math.max(submittedAt, this.lastSeenDoneAt) : submittedAt;
    const took = firstRun ? Number.POSITIVE_INFINITY : doneAt - began;
    this.lastSeenDoneAt = doneAt;
    const runs = recent ?? [];
    runs.push(took);
    if (runs.length > RECENT_RUNS) runs.shift();
    this.recentMs.set(plan, runs);
    const out = this.readFloats(readback.getMappedRange(0, bytes), count * this.config.numClasses);
    readback.unmap();
    return out;
  }

  /**
   * GPU time of the recorded forward pass for `input`'s batch size, from timestamps at the start
   * and end of its compute pass (median of `runs`), the batch already on the GPU and no readback:
   * what FasterTransformer's tables time, where infer() also counts the upload, the wait for the
   * results and the readback. Undefined where the device has no timestamp queries. For
   * benchmarks: queued behind the batches in flight like another batch on slot 0.
   */
  forwardGpuMs(input: EngineInput, runs = 10): Promise<number | undefined> {
    try {
      this.check(input);
    } catch (e) {
      return Promise.reject(e);
    }
    if (!this.gpu.features.has('timestamp-query')) return Promise.resolve(undefined);
    const slot = this.slots[0];
    const run = Promise.all(this.slots.map((s) => s.busy)).then(() => this.timePass(slot, input, runs));
    slot.busy = run.catch(() => undefined);
    return run;
  }

  private async timePass(slot: Slot<B, P>, input: EngineInput, runs: number): Promise<number> {
    const plan = this.plan(slot, input);
    const times = await timeComputePass(
      this.gpu.device,
      (pass) => encodeDispatches(pass, plan.dispatches),
      runs,
    );
    return times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
  }

  protected logitsBytes(count: number): number {
    return Math.ceil((count * this.config.numClasses * (this.logitsType === 'f16' ? 2 : 4)) / 4) * 4;
  }

  /**
   * The recorded forward pass as two command buffers, its first quarter (head) and the rest with
   * the logits copy (tail), submitted one after the other: Dawn records a command buffer's Vulkan
   * commands inside queue.submit (0.3 ms for ViT-B/16-384 in FP16 on the H200 machine, 0.5 in
   * INT8), so the GPU starts on the head while the tail is being recorded. Measured on the H200
   * machine (bench/pass-timing.mjs, batch 32, one process): 26.13 ms split against 26.11-26.47
   * whole in FP16, 16.47 against 16.55-16.97 in INT8, within the noise; kept because every figure
   * in the README was measured with it.
   */
  private encodeForward(slot: Slot<B, P>, plan: P, count: number): ForwardCommands {
    const [head, tail] = forwardParts(plan.dispatches);
    const encode = (dispatches: Dispatch[], readLogits: boolean) => {
      const enc = this.gpu.device.createCommandEncoder();
      const pass = enc.beginComputePass();
      encodeDispatches(pass, dispatches);
      pass.end();
      if (readLogits) {
        const { logits, readback } = slot.buffers;
        enc.copyBufferToBuffer(logits, 0, readback, 0, this.logitsBytes(count));
      }
      return enc.finish();
    };
    return { head: encode(head, false), tail: encode(tail, true) };
  }

  /** `elements` floats of `type` from a mapped range, starting `byteOffset` bytes in, as a copy. */
  protected readFloats(
    range: ArrayBuffer,
    elements: number,
    byteOffset = 0,
    type = this.logitsType,
  ): Float32Array {
    return type === 'f16'
      ? fromHalfArray(new Uint16Array(range, byteOffset, elements))
      : new Float32Array(range, byteOffset, elements).slice();
  }
}
