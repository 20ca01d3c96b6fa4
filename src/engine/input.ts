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
    checkYuvColors((given as { color?: unknown }).color, count, what);
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

/** A YUV input's colours: absent (DEFAULT_YUV_COLOR), one for the batch, or one per frame. */
function checkYuvColors(color: unknown, count: number, what: string): void {
  if (!Array.isArray(color)) {
    checkYuvColor(color, what);
    return;
  }
  if (color.length !== count)
    throw new EngineError(
      `${what}: color must be one colour or one per frame (${count}), got ${color.length}`,
      {
        input: 'color',
      },
    );
  for (const [i, c] of color.entries()) checkYuvColor(c, what, `color[${i}]`);
}

/** One colour description: absent (DEFAULT_YUV_COLOR) or both fields from their lists. */
export function checkYuvColor(color: unknown, what: string, field = 'color'): void {
  if (color === undefined) return;
  if (typeof color !== 'object' || color === null || Array.isArray(color))
    throw new EngineError(
      `${what}: ${field} must be {matrix: 'bt601' | 'bt709', range: 'limited' | 'full'}, got ${describe(color)}`,
      { input: field },
    );
  const { matrix, range } = color as Partial<Record<keyof YuvColor, unknown>>;
  if (!YUV_MATRICES.includes(matrix as never))
    throw new EngineError(
      `${what}: ${field}.matrix must be ${YUV_MATRICES.map((m) => `'${m}'`).join(' or ')}, got ${JSON.stringify(matrix) ?? 'undefined'}`,
      { input: `${field}.matrix` },
    );
  if (!YUV_RANGES.includes(range as never))
    throw new EngineError(
      `${what}: ${field}.range must be ${YUV_RANGES.map((r) => `'${r}'`).join(' or ')}, got ${JSON.stringify(range) ?? 'undefined'}`,
      { input: `${field}.range` },
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

/** What a plan is recorded for: the input's kind. */
export function inputFormat(input: EngineInput): InputFormat {
  return { kind: input.kind };
}

/** The colour of each frame of a (checked) YUV input, defaults filled in. */
export function frameColors(input: EngineInput): YuvColor[] {
  const color = input.kind === 'nv12' || input.kind === 'yuv420p' ? input.color : undefined;
  if (Array.isArray(color)) return color.map(({ matrix, range }) => ({ matrix, range }));
  const { matrix, range } = (color as YuvColor | undefined) ?? DEFAULT_YUV_COLOR;
  return Array.from({ length: input.count }, () => ({ matrix, range }));
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
