import { EngineError } from '../errors.js';
import type { ViTConfig } from './config.js';
import {
  type BatchRequest,
  DEFAULT_YUV_COLOR,
  type EngineInput,
  FRAME_KINDS,
  type FrameKind,
  type InputFormat,
  YUV_MATRICES,
  YUV_RANGES,
  type YuvColor,
} from './types.js';
import { yuvFrameBytes } from './yuv.js';

/**
 * Checks an engine input against the model before any work: its kind, the array type that kind takes,
 * the count, and the exact length. Every backend calls it, so a frame of the wrong size (a decoder set to
 * another model's size) is an error naming both sizes on the GPU as on the CPU, never logits read from
 * the wrong bytes. `what` names the caller in the error.
 */
export function checkInput(config: ViTConfig, input: EngineInput, what = 'reference forward'): void {
  const s = config.imageSize;
  const given = input as Partial<EngineInput> | null | undefined;
  const kinds = ['pixels', ...FRAME_KINDS] as const;
  if (typeof given !== 'object' || given === null || !kinds.includes(given.kind as never))
    throw new EngineError(
      `${what}: input must be {kind: 'rgb' | 'nv12' | 'yuv420p', data: Uint8Array, count} or {kind: 'pixels', data: Float32Array, count}, got ${describe(given)}`,
      { input: 'kind' },
    );
  const type = given.kind === 'pixels' ? Float32Array : Uint8Array;
  if (!(given.data instanceof type))
    throw new EngineError(`${what}: kind '${given.kind}' takes a ${type.name}, got ${describe(given.data)}`, {
      input: 'data',
    });
  if (!Number.isInteger(given.count) || (given.count as number) < 1)
    throw new EngineError(`${what}: batch count must be a positive integer, got ${given.count}`, {
      input: 'count',
    });
  const count = given.count as number;
  if (given.kind === 'nv12' || given.kind === 'yuv420p') {
    checkYuvColor((given as { color?: unknown }).color, what);
    const per = yuvFrameBytes(s, s);
    const want = count * per;
    if (given.data.length !== want)
      throw new EngineError(
        `${what}: ${given.kind} frames of ${s}x${s} take ${per} bytes each (Y, then chroma at ${Math.ceil(s / 2)}x${Math.ceil(s / 2)}), so ${count} need ${want}, got ${given.data.length} (model ${config.name} takes ${s}x${s} images)`,
        { input: 'data' },
      );
    return;
  }
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
      { input: 'data' },
    );
  }
}

/** A YUV input's colour description: absent (DEFAULT_YUV_COLOR) or both fields from their lists. */
export function checkYuvColor(color: unknown, what: string): void {
  if (color === undefined) return;
  if (typeof color !== 'object' || color === null || Array.isArray(color))
    throw new EngineError(
      `${what}: color must be {matrix: 'bt601' | 'bt709', range: 'limited' | 'full'}, got ${describe(color)}`,
      { input: 'color' },
    );
  const { matrix, range } = color as Partial<Record<keyof YuvColor, unknown>>;
  if (!YUV_MATRICES.includes(matrix as never))
    throw new EngineError(
      `${what}: color.matrix must be ${YUV_MATRICES.map((m) => `'${m}'`).join(' or ')}, got ${JSON.stringify(matrix) ?? 'undefined'}`,
      { input: 'color.matrix' },
    );
  if (!YUV_RANGES.includes(range as never))
    throw new EngineError(
      `${what}: color.range must be ${YUV_RANGES.map((r) => `'${r}'`).join(' or ')}, got ${JSON.stringify(range) ?? 'undefined'}`,
      { input: 'color.range' },
    );
}

/**
 * A beginBatch request's kind, count (1 to maxBatch) and colour, before any memory is handed
 * out; returns the bytes of one frame.
 */
export function checkBatchRequest(
  config: ViTConfig,
  maxBatch: number,
  request: BatchRequest,
  what: string,
): number {
  const r = request as Partial<BatchRequest> | null | undefined;
  if (typeof r !== 'object' || r === null || !FRAME_KINDS.includes(r.kind as FrameKind))
    throw new EngineError(
      `${what}: kind must be one of ${FRAME_KINDS.join(', ')}, got ${JSON.stringify(r?.kind)}`,
      {
        input: 'kind',
      },
    );
  if (!Number.isInteger(r.count) || (r.count as number) < 1 || (r.count as number) > maxBatch)
    throw new EngineError(
      `${what}: count must be an integer from 1 to maxBatch ${maxBatch}, got ${r.count}`,
      {
        input: 'count',
      },
    );
  if (r.kind !== 'rgb') checkYuvColor(r.color, what);
  return frameElements(r.kind as FrameKind, config.imageSize);
}

/** What a plan is recorded for: the input's kind, and for YUV its colour (the default filled in). */
export function inputFormat(input: EngineInput): InputFormat {
  if (input.kind === 'rgb' || input.kind === 'pixels') return { kind: input.kind };
  const { matrix, range } = input.color ?? DEFAULT_YUV_COLOR;
  return { kind: input.kind, color: { matrix, range } };
}

/** Bytes (uint8 kinds) or floats (pixels) of one frame of a model of image size `s`. */
export function frameElements(kind: EngineInput['kind'], s: number): number {
  return kind === 'rgb' || kind === 'pixels' ? s * s * 3 : yuvFrameBytes(s, s);
}

function describe(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  if (ArrayBuffer.isView(v)) return v.constructor.name;
  if (Array.isArray(v)) return 'an Array';
  if (typeof v === 'object') return `an object with kind ${JSON.stringify((v as { kind?: unknown }).kind)}`;
  return typeof v;
}
