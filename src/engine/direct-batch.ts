import { EngineError } from '../errors.js';
import { checkBatchRequest, checkYuvColor } from './input.js';
import {
  type BatchRequest,
  DEFAULT_YUV_COLOR,
  type DirectBatch,
  type Engine,
  type FrameKind,
  type YuvColor,
} from './types.js';

/**
 * A batch for any engine: the engine's own (the GPU engines write into mapped staging memory),
 * or, for engines without memory of their own (the CPU backend), frames in a JS buffer that
 * submit hands to infer(). Callers write frames the same way whichever engine runs them.
 */
export function beginBatch(engine: Engine, request: BatchRequest): Promise<DirectBatch> {
  return engine.beginBatch ? engine.beginBatch(request) : hostBatch(engine, request);
}

/**
 * A batch in a JS buffer that submit hands to infer(), whatever the engine: for engines without
 * memory of their own, and for a caller whose engine could not begin one (live feeds go on).
 */
export function hostBatch(engine: Engine, request: BatchRequest): Promise<DirectBatch> {
  try {
    const what = `${engine.backend} engine (${engine.config.name}) beginBatch`;
    const frameBytes = checkBatchRequest(engine.config, engine.maxBatch, request, what);
    const { kind, count, color } = request;
    const memory = new ArrayBuffer(count * frameBytes);
    const batch = new FramesBatch(
      kind,
      count,
      frameBytes,
      memory,
      color,
      (colors, n) => {
        // Moved out, so that views kept past submit see detached memory here as on the GPU.
        const data = new Uint8Array(structuredClone(memory, { transfer: [memory] }), 0, n * frameBytes);
        return engine.infer(
          kind === 'rgb' ? { kind, data, count: n } : { kind, data, count: n, color: colors },
        );
      },
      () => structuredClone(memory, { transfer: [memory] }),
    );
    return Promise.resolve(batch);
  } catch (e) {
    return Promise.reject(e);
  }
}

/**
 * A batch's frames as views into `memory`, open until submit or cancel; `run` and `abandon` say
 * what those do with it (the slotted engines unmap and copy, or give the slot back).
 */
export class FramesBatch implements DirectBatch {
  private state: 'open' | 'submitted' | 'cancelled' = 'open';
  /** YUV: each frame's colour, the batch's until frame(i, color) says otherwise. */
  private readonly colors: YuvColor[];
  constructor(
    readonly kind: FrameKind,
    readonly count: number,
    readonly frameBytes: number,
    private readonly memory: ArrayBuffer,
    color: YuvColor | undefined,
    /** Runs the first `count` frames; `colors` are theirs (YUV). */
    private readonly run: (colors: YuvColor[], count: number) => Promise<Float32Array>,
    private readonly abandon: () => void,
  ) {
    const { matrix, range } = color ?? DEFAULT_YUV_COLOR;
    this.colors = kind === 'rgb' ? [] : Array.from({ length: count }, () => ({ matrix, range }));
  }

  frame(i: number, color?: YuvColor): Uint8Array {
    if (this.state !== 'open')
      throw new EngineError(
        `batch frame ${i}: the batch was ${this.state}; its views into staging memory are gone`,
        {
          input: 'frame',
        },
      );
    if (!Number.isInteger(i) || i < 0 || i >= this.count)
      throw new EngineError(`batch frame ${i}: must be an integer from 0 to ${this.count - 1}`, {
        input: 'frame',
      });
    if (color !== undefined) {
      if (this.kind === 'rgb')
        throw new EngineError(`batch frame ${i}: rgb frames take no colour`, { input: 'color' });
      checkYuvColor(color, `batch frame ${i}`);
      this.colors[i] = { matrix: color.matrix, range: color.range };
    }
    return new Uint8Array(this.memory, i * this.frameBytes, this.frameBytes);
  }

  submit(count: number = this.count): Promise<Float32Array> {
    if (this.state !== 'open')
      return Promise.reject(
        new EngineError(`batch submit: the batch was already ${this.state}`, { input: 'batch' }),
      );
    if (!Number.isInteger(count) || count < 1 || count > this.count)
      return Promise.reject(
        new EngineError(`batch submit: count must be an integer from 1 to ${this.count}, got ${count}`, {
          input: 'count',
        }),
      );
    this.state = 'submitted';
    return this.run(this.colors.slice(0, count), count);
  }

  cancel(): void {
    if (this.state !== 'open') return;
    this.state = 'cancelled';
    this.abandon();
  }
}
