// Writes random weights of a model preset as timm-named safetensors (for end-to-end runs where
// no real checkpoint can be fetched): node bench/random-weights.mjs vit-b16-224 out.safetensors

import { randomWeights } from '../dist/src/engine/random-weights.js';
import { resolveModel } from '../dist/src/models/presets.js';
import { toTimmTensors, writeSafetensors } from '../dist/src/models/to-safetensors.js';

const [model = 'vit-b16-224', out = 'random.safetensors'] = process.argv.slice(2);
const config = resolveModel(model);
await writeSafetensors(out, toTimmTensors(randomWeights(config), config), 'f16');
console.error(`wrote ${out} (${model}, random, f16)`);
