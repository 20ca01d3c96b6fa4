import { describe, expect, it } from 'vitest';
import { parseViTConfig, type ViTConfig } from '../../../src/engine/config.js';
import { BufferUsage, MapMode, openGpu } from '../../../src/engine/gpu.js';
import { createPreprocessKernel, packYuvColors } from '../../../src/engine/kernels/preprocess.js';
import { bindGroup } from '../../../src/engine/kernels/source.js';
import { patchify } from '../../../src/engine/reference.js';
import type { YuvColor, YuvKind } from '../../../src/engine/types.js';
import { yuvFrameBytes } from '../../../src/engine/yuv.js';

const gpu = await openGpu();

const COLORS: YuvColor[] = [
  { matrix: 'bt601', range: 'limited' },
  { matrix: 'bt601', range: 'full' },
  { matrix: 'bt709', range: 'limited' },
  { matrix: 'bt709', range: 'full' },
];

const configOf = (imageSize: number, patchSize: number): ViTConfig =>
  parseViTConfig({
    name: `yuv-${imageSize}`,
    image_size: imageSize,
    patch_size: patchSize,
    hidden_size: 8,
    num_heads: 2,
    num_layers: 1,
    mlp_dim: 16,
    num_classes: 3,
    // ImageNet's, so that each channel's normalisation differs.
    mean: [0.485, 0.456, 0.406],
    std: [0.229, 0.224, 0.225],
  });

/** Runs from_yuv on `data`, frame i of colour `colors[i]`, and returns the patch matrix (f32). */
async function gpuPatches(config: ViTConfig, kind: YuvKind, colors: YuvColor[], data: Uint8Array) {
  const count = colors.length;
  const { device } = gpu;
  const kernel = await createPreprocessKernel(device, config, 'f32');
  const buffer = (size: number, usage: number) =>
    device.createBuffer({ size: Math.max(16, Math.ceil(size / 16) * 16), usage });
  const params = buffer(256, BufferUsage.UNIFORM | BufferUsage.COPY_DST);
  device.queue.writeBuffer(params, 0, kernel.params(count, { kind }));
  const packed = packYuvColors(colors);
  const colorBuffer = buffer(packed.byteLength, BufferUsage.STORAGE | BufferUsage.COPY_DST);
  device.queue.writeBuffer(colorBuffer, 0, packed);
  const padded = new Uint8Array(Math.ceil(data.length / 4) * 4);
  padded.set(data);
  const yuv = buffer(padded.length, BufferUsage.STORAGE | BufferUsage.COPY_DST);
  device.queue.writeBuffer(yuv, 0, padded);
  const outBytes = count * config.imageSize * config.imageSize * 3 * 4;
  const patches = buffer(outBytes, BufferUsage.STORAGE | BufferUsage.COPY_SRC);
  const readback = buffer(outBytes, BufferUsage.MAP_READ | BufferUsage.COPY_DST);
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setPipeline(kernel.fromYuv);
  pass.setBindGroup(
    0,
    bindGroup(device, 'from_yuv', kernel.fromYuv, kernel.bindings, {
      params,
      yuv,
      colors: colorBuffer,
      patches,
    }),
  );
  pass.dispatchWorkgroups(...kernel.workgroups(count));
  pass.end();
  enc.copyBufferToBuffer(patches, 0, readback, 0, outBytes);
  device.queue.submit([enc.finish()]);
  await readback.mapAsync(MapMode.READ);
  const out = new Float32Array(readback.getMappedRange(0, outBytes)).slice();
  for (const b of [params, yuv, colorBuffer, patches, readback]) b.destroy();
  return out;
}

/** Bytes covering every value, chroma included, from a fixed seed (no two frames alike). */
function frames(bytes: number, seed: number): Uint8Array {
  let s = seed;
  return Uint8Array.from({ length: bytes }, () => {
    s = (s * 1103515245 + 12345) >>> 0;
    return s >>> 24;
  });
}

describe('from_yuv (kernels/preprocess.wgsl) against the CPU reference', () => {
  // Odd sides have chroma of ceil(S/2) and frames of an odd byte count: the next frame starts mid-word.
  const sizes = [
    [16, 4],
    [15, 5],
    [9, 3],
  ] as const;
  for (const [S, P] of sizes)
    for (const kind of ['nv12', 'yuv420p'] as const)
      it.each(COLORS)(`${kind} ${S}x${S}: $matrix $range`, async (color) => {
        const config = configOf(S, P);
        const count = 3;
        const data = frames(count * yuvFrameBytes(S, S), S * 7 + kind.length);
        const got = await gpuPatches(config, kind, [color, color, color], data);
        const want = patchify(config, { kind, data, count, color });
        let worst = 0;
        for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
        // f32 on the GPU against float64 arithmetic stored as f32; values reach about ±2.6.
        expect(worst).toBeLessThan(2e-5);
      });

  it('takes each frame’s own colour: four frames, four colours, one batch', async () => {
    const config = configOf(15, 5);
    const per = yuvFrameBytes(15, 15);
    const data = frames(4 * per, 99);
    const got = await gpuPatches(config, 'nv12', COLORS, data);
    const want = patchify(config, { kind: 'nv12', data, count: 4, color: COLORS });
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
    expect(worst).toBeLessThan(2e-5);
    // The reference converts each frame with its own colour.
    const rows = want.length / 4;
    const second = patchify(config, {
      kind: 'nv12',
      data: data.subarray(per, 2 * per),
      count: 1,
      color: COLORS[1],
    });
    expect(want.subarray(rows, 2 * rows)).toEqual(second);
  });
});
