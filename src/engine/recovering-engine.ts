import { GpuUnavailableError } from '../errors.js';
import { type Logger, silentLogger } from '../util/logger.js';
import { beginBatch } from './direct-batch.js';
import type { BatchRequest, DirectBatch, Engine, EngineInput } from './types.js';

/**
 * An engine that survives GPU device loss (driver reset, GPU hang, another process's crash): a
 * batch that fails because the device is gone makes it open a fresh engine (new device, weights
 * uploaded again from the CPU copy) and retries that batch once. Batches already queued on the
 * lost device fail with the device-lost error if the retry fails too. Long-running `serve`
 * processes use this so that a GPU reset does not need a restart.
 */
export class RecoveringEngine implements Engine {
  private current: Promise<Engine>;
  private closed = false;
  /** Times a fresh engine was opened after a loss. */
  recoveries = 0;

  constructor(
    first: Engine,
    private readonly reopen: () => Promise<Engine>,
    private readonly logger: Logger = silentLogger,
  ) {
    this.current = Promise.resolve(first);
    this.latest = first;
    this.config = first.config;
    this.backend = first.backend;
    this.precision = first.precision;
    this.maxBatch = first.maxBatch;
  }

  readonly config: Engine['config'];
  readonly backend: Engine['backend'];
  readonly precision: Engine['precision'];
  readonly maxBatch: number;
  /** The engine in use now, for synchronous figures (gpuBytes). */
  private latest: Engine;

  /** GPU memory held by the engine in use (undefined for backends that do not report it). */
  get gpuBytes(): number | undefined {
    return (this.latest as Engine & { gpuBytes?: number }).gpuBytes;
  }

  async infer(input: EngineInput): Promise<Float32Array> {
    const engine = await this.current;
    try {
      return await engine.infer(input);
    } catch (e) {
      if (!(e instanceof GpuUnavailableError) || this.closed) throw e;
      const fresh = await this.replace(engine, e);
      return fresh.infer(input);
    }
  }

  /**
   * A batch on the engine in use (direct-batch.ts). A loss found at begin opens a new engine and
   * begins there. A loss at submit fails that batch, unlike infer(), which retries: its frames
   * were in the lost device's memory. The next batch goes to a new engine.
   */
  async beginBatch(request: BatchRequest): Promise<DirectBatch> {
    const engine = await this.current;
    let batch: DirectBatch;
    try {
      batch = await beginBatch(engine, request);
    } catch (e) {
      if (!(e instanceof GpuUnavailableError) || this.closed) throw e;
      return beginBatch(await this.replace(engine, e), request);
    }
    return {
      kind: batch.kind,
      count: batch.count,
      frameBytes: batch.frameBytes,
      frame: (i, color) => batch.frame(i, color),
      cancel: () => batch.cancel(),
      submit: (count) =>
        batch.submit(count).catch((e: unknown) => {
          if (e instanceof GpuUnavailableError && !this.closed)
            void this.replace(engine, e).catch(() => undefined);
          throw e;
        }),
    };
  }

  /** One replacement per lost engine, however many batches notice the loss. */
  private replace(lost: Engine, why: Error): Promise<Engine> {
    this.current = this.current.then(async (now) => {
      if (now !== lost) return now;
      this.logger.warn({ err: why }, 'GPU device lost: opening a new engine');
      await lost.close().catch(() => undefined);
      const fresh = await this.reopen();
      this.latest = fresh;
      this.recoveries++;
      return fresh;
    });
    return this.current;
  }

  async close(): Promise<void> {
    this.closed = true;
    await (await this.current).close();
  }
}
