/**
 * Image folders and globs: which file each frame came from, and which files gave no frame.
 * image2 numbers images from pts 0 at its frame rate, counting those it could not decode.
 */
export class ImageFiles {
  private readonly seen = new Set<string>();

  constructor(
    readonly files: readonly string[],
    private readonly framerate: number,
  ) {}

  fileAt(ptsMs: number): string | undefined {
    if (this.files.length === 0) return undefined;
    const file = this.files[Math.round((ptsMs * this.framerate) / 1000) % this.files.length];
    if (file !== undefined) this.seen.add(file);
    return file;
  }

  /** Files no frame came from so far, in ffmpeg's order. */
  missing(): string[] {
    return this.files.filter((f) => !this.seen.has(f));
  }
}
