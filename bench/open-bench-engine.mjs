// The engine a timing script measures: random weights, the tuning cache's GEMM tiles where it has
// them, INT8 scales from SCALES=scales.json or calibrated on 2 random frames on the GPU.
// precision: fp32, fp16, int8-m1 or int8-m2.
import { calibrateOnGpu } from '../dist/src/engine/int8/calibrate.js';
import { Int8Engine } from '../dist/src/engine/int8/int8-engine.js';
import { int8TunedPolicy } from '../dist/src/engine/int8/int8-tuning.js';
import { readScales } from '../dist/src/engine/int8/scales.js';
import { randomFrames, randomWeights } from '../dist/src/engine/random-weights.js';
import { readTuningCache, tunedPolicy } from '../dist/src/engine/tuning.js';
import { WebGpuEngine } from '../dist/src/engine/webgpu-engine.js';

/** INT8 scales for random weights: SCALES=scales.json, or calibrated on 2 random frames on the GPU. */
export async function benchScales(gpu, config, weights) {
  if (process.env.SCALES) return readScales(process.env.SCALES, config);
  return calibrateOnGpu({ config, weights, frames: randomFrames(config, 2, 5), count: 2, batch: 1, gpu });
}

export async function openBenchEngine(gpu, config, precision, maxBatch) {
  const weights = randomWeights(config);
  const cache = readTuningCache();
  if (precision.startsWith('int8')) {
    const scales = await benchScales(gpu, config, weights);
    return Int8Engine.open({
      config,
      weights,
      scales,
      mode: precision === 'int8-m2' ? 2 : 1,
      maxBatch,
      gpu,
      gemm: int8TunedPolicy(gpu, cache),
    });
  }
  return WebGpuEngine.open({
    config,
    weights,
    precision,
    maxBatch,
    gpu,
    gemm: tunedPolicy(gpu, precision === 'fp16' ? 'f16' : 'f32', cache),
  });
}
