import type { YuvColor, YuvKind } from './types.js';

/**
 * YUV 4:2:0 frames to RGB, on the CPU: the reference the GPU kernel (`from_yuv` in
 * kernels/preprocess.wgsl) is tested against and what the CPU backend uses.
 *
 * Chroma is upsampled by replication: pixel (x, y) takes the chroma sample (x >> 1, y >> 1), as
 * swscale's unscaled YUV -> RGB converters do. The decoder already scaled the frame to the model's
 * size, so a filter here would only blur chroma once more.
 */

/** Bytes of one YUV 4:2:0 frame of width x height: Y, then two chroma planes of ceil(w/2) x ceil(h/2). */
export function yuvFrameBytes(width: number, height: number): number {
  return width * height + 2 * Math.ceil(width / 2) * Math.ceil(height / 2);
}

/**
 * The affine map from bytes to RGB in [0, 1] for one colour description:
 *   y' = (Y - yOffset) * yScale, u' = (U - 128) * cScale, v' = (V - 128) * cScale
 *   R = y' + rV * v', G = y' - gU * u' - gV * v', B = y' + bU * u'
 * (ITU-R BT.601 / BT.709 with Kr, Kb; limited range scales Y by 1/219 and chroma by 1/224).
 */
export interface YuvCoefficients {
  yOffset: number;
  yScale: number;
  cScale: number;
  rV: number;
  gU: number;
  gV: number;
  bU: number;
}

const LUMA_WEIGHTS: Record<YuvColor['matrix'], { kr: number; kb: number }> = {
  bt601: { kr: 0.299, kb: 0.114 },
  bt709: { kr: 0.2126, kb: 0.0722 },
};

export function yuvCoefficients(color: YuvColor): YuvCoefficients {
  const { kr, kb } = LUMA_WEIGHTS[color.matrix];
  const kg = 1 - kr - kb;
  const limited = color.range === 'limited';
  return {
    yOffset: limited ? 16 : 0,
    yScale: limited ? 1 / 219 : 1 / 255,
    cScale: limited ? 1 / 224 : 1 / 255,
    rV: 2 * (1 - kr),
    gU: (2 * kb * (1 - kb)) / kg,
    gV: (2 * kr * (1 - kr)) / kg,
    bU: 2 * (1 - kb),
  };
}

/**
 * One frame's RGB, interleaved [height, width, 3], as floats in [0, 255] (clamped, not rounded:
 * the GPU normalises them without a trip through 8 bits), written into `out` from `outOffset`.
 */
export function yuvToRgb(
  frame: Uint8Array,
  kind: YuvKind,
  width: number,
  height: number,
  color: YuvColor,
  out: Float32Array = new Float32Array(width * height * 3),
  outOffset = 0,
): Float32Array {
  const k = yuvCoefficients(color);
  const cw = Math.ceil(width / 2);
  const ch = Math.ceil(height / 2);
  const chroma = width * height;
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const c = (y >> 1) * cw + (x >> 1);
      const [u, v] =
        kind === 'nv12'
          ? [frame[chroma + 2 * c], frame[chroma + 2 * c + 1]]
          : [frame[chroma + c], frame[chroma + cw * ch + c]];
      const yn = (frame[y * width + x] - k.yOffset) * k.yScale;
      const un = (u - 128) * k.cScale;
      const vn = (v - 128) * k.cScale;
      const o = outOffset + (y * width + x) * 3;
      out[o] = clamp255(yn + k.rV * vn);
      out[o + 1] = clamp255(yn - k.gU * un - k.gV * vn);
      out[o + 2] = clamp255(yn + k.bU * un);
    }
  return out;
}

/** The same as uint8 RGB (rounded), for images and tests that want bytes. */
export function yuvToRgbBytes(
  frame: Uint8Array,
  kind: YuvKind,
  width: number,
  height: number,
  color: YuvColor,
): Uint8Array {
  return Uint8Array.from(yuvToRgb(frame, kind, width, height, color), (v) => Math.round(v));
}

const clamp255 = (v: number) => Math.min(1, Math.max(0, v)) * 255;
