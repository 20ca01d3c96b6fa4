import { EngineError } from '../errors.js';
import type { ViTConfig } from './config.js';
import type { EngineInput } from './types.js';

/**
 * Checks an engine input against the model before any work: its kind, the array type that kind takes,
 * the count, and the exact length. Every backend calls it, so a frame of the wrong size (a decoder set to
 * another model's size) is an error naming both sizes on the GPU as on the CPU, never logits read from
 * the wrong bytes. `what` names the caller in the error.
 */
export function checkInput(config: ViTConfig, input: EngineInput, what = 'reference forward'): void {
  const s = config.imageSize;
  const given = input as Partial<EngineInput> | null | undefined;
  if (typeof given !== 'object' || given === null || (given.kind !== 'rgb' && given.kind !== 'pixels'))
    throw new EngineError(
      `${what}: input must be {kind: 'rgb', data: Uint8Array, count} or {kind: 'pixels', data: Float32Array, count}, got ${describe(given)}`,
    );
  const type = given.kind === 'rgb' ? Uint8Array : Float32Array;
  if (!(given.data instanceof type))
    throw new EngineError(`${what}: kind '${given.kind}' takes a ${type.name}, got ${describe(given.data)}`);
  if (!Number.isInteger(given.count) || (given.count as number) < 1)
    throw new EngineError(`${what}: batch count must be a positive integer, got ${given.count}`);
  const count = given.count as number;
  const want = count * s * s * 3;
  if (given.data.length !== want) {
    const layout =
      given.kind === 'rgb'
        ? `uint8 RGB [${count}, ${s}, ${s}, 3]`
        : `float32 pixels [${count}, 3, ${s}, ${s}]`;
    const perImage = given.data.length / count / 3;
    const side = Math.sqrt(perImage);
    const hint = Number.isInteger(side) ? `; it holds ${count} image(s) of ${side}x${side}` : '';
    throw new EngineError(
      `${what}: ${layout} needs ${want} values, got ${given.data.length}${hint} (model ${config.name} takes ${s}x${s} images)`,
    );
  }
}

function describe(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  if (ArrayBuffer.isView(v)) return v.constructor.name;
  if (Array.isArray(v)) return 'an Array';
  if (typeof v === 'object') return `an object with kind ${JSON.stringify((v as { kind?: unknown }).kind)}`;
  return typeof v;
}
