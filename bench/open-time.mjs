// Where the time before a first frame goes: reading and converting the weights file, opening the
// GPU, opening the engine (weights converted to the engine's precision and uploaded, kernels
// compiled). Usage (after a build): node bench/open-time.mjs <weights file> [model] [precision] [max batch]
// e.g. node bench/random-weights.mjs vit-b16-224 /tmp/w.safetensors && node bench/open-time.mjs /tmp/w.safetensors
import { openGpu } from '../dist/src/engine/gpu.js';
import { WebGpuEngine } from '../dist/src/engine/webgpu-engine.js';
import { loadWeights } from '../dist/src/engine/weights/index.js';
import { resolveModel } from '../dist/src/models/presets.js';

const [file, model = 'vit-b16-224', precision = 'fp16', maxBatch = '32'] = process.argv.slice(2);
if (!file) {
  console.error('usage: node bench/open-time.mjs <weights file> [model] [precision] [max batch]');
  process.exit(2);
}
const config = resolveModel(model);
const t0 = performance.now();
const weights = await loadWeights(file, config);
const t1 = performance.now();
const gpu = await openGpu();
const t2 = performance.now();
const engine = await WebGpuEngine.open({ config, weights, precision, maxBatch: Number(maxBatch), gpu });
const t3 = performance.now();
console.log(
  `${model} ${precision}: weights ${(t1 - t0).toFixed(0)} ms, GPU ${(t2 - t1).toFixed(0)} ms, engine open ${(t3 - t2).toFixed(0)} ms (${gpu.info.description})`,
);
await engine.close();
process.exit(0);
