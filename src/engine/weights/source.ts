/**
 * A weights container opened for reading, whatever its format: tensor names and shapes are
 * known up front (from the zip directory and npy headers, or the safetensors header), data is
 * read one tensor at a time into its own Float32Array so that a 1.2 GB checkpoint is never
 * held twice in memory.
 */
export interface TensorSource {
  readonly file: string;
  readonly format: 'npz' | 'safetensors';
  /** Tensor names as stored (npz: entry names without `.npy`). */
  readonly names: readonly string[];
  /** Shape of a stored tensor, or undefined when there is no tensor of that name. */
  shape(name: string): readonly number[] | undefined;
  /** Reads one tensor, converted to float32, row-major. */
  read(name: string): Promise<Float32Array>;
  close(): Promise<void>;
}

export const numel = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

export const fmtShape = (shape: readonly number[]) => `[${shape.join(', ')}]`;
