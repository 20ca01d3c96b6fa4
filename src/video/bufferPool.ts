/**
 * Fixed-size byte buffers handed out and given back. A buffer that is never given back is simply
 * garbage collected: correctness never depends on release, only the allocation rate does.
 */
export class BufferPool {
  private readonly free: Uint8Array[] = [];
  /** Buffers handed out and not yet returned. */
  outstanding = 0;
  /** Buffers created so far (steady state: stops growing). */
  allocated = 0;

  constructor(
    readonly bytes: number,
    private readonly maxFree = 16,
  ) {}

  acquire(): Uint8Array {
    this.outstanding++;
    const buf = this.free.pop();
    if (buf) return buf;
    this.allocated++;
    return new Uint8Array(this.bytes);
  }

  release(buf: Uint8Array): void {
    this.outstanding--;
    if (this.free.length < this.maxFree && buf.byteLength === this.bytes) this.free.push(buf);
  }
}
