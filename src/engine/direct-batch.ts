import { EngineError } from '../errors.js';
import { checkBatchRequest } from './input.js';
import type { BatchRequest, DirectBatch, Engine, FrameKind } from './types.js';

/**
 * A batch for any engine: the engine's own (the GPU engines write into mapped staging memory),
 * or, for engines without memory of their own (the CPU backend), frames in a JS buffer that
 * submit hands to infer(). Callers write frames the same way whichever engine runs them.
 */
export function beginBatch(engine: Engine, request: BatchRequest): Promise<DirectBatch> {
  if (engine.beginBatch) return engine.beginBatch(request);
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
      () => {
        // Moved out, so that views kept past submit see detached memory here as on the GPU.
        const data = new Uint8Array(structuredClone(memory, { transfer: [memory] }));
        return engine.infer(kind === 'rgb' ? { kind, data, count } : { kind, data, count, color });
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
  constructor(
    readonly kind: FrameKind,
    readonly count: number,
    readonly frameBytes: number,
    private readonly memory: ArrayBuffer,
    private readonly run: () => Promise<Float32Array>,
    private readonly abandon: () => void,
  ) {}

  frame(i: number): Uint8Array {
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
    return new Uint8Array(this.memory, i * this.frameBytes, this.frameBytes);
  }

  submit(): Promise<Float32Array> {
    if (this.state !== 'open')
      return Promise.reject(
        new EngineError(`batch submit: the batch was already ${this.state}`, { input: 'batch' }),
      );
    this.state = 'submitted';
    return this.run();
  }

  cancel(): void {
    if (this.state !== 'open') return;
    this.state = 'cancelled';
    this.abandon();
  }
}
