// The file pipeline's own rate: fileBatch -> classify over a video with an engine that answers at
// once (or after a fixed delay per batch), so that decoding, batching, top-k and ordering are timed
// without a GPU. Compare with `vitstream bench decode FILE` on the same file.
// Usage (after a build): node bench/pipeline-mock.mjs <video> [delay ms per batch] [max batch] [wait]
// wait: `timer` (default) sleeps through the delay; `spin` polls with setImmediate until it has
// passed, as dawn.node does while a mapAsync is pending (its main-thread cost, without a GPU).

import { lastValueFrom, tap } from 'rxjs';
import { fileBatch } from '../dist/pipelines/fileBatch.js';
import { classify } from '../dist/src/operators/classify.js';

const [file, delay = '0', maxBatchText = '32', wait = 'timer'] = process.argv.slice(2);
if (!file) {
  console.error('usage: node bench/pipeline-mock.mjs <video> [delay ms per batch] [max batch]');
  process.exit(2);
}
const classes = 1000;
const delayMs = Number(delay);
const maxBatch = Number(maxBatchText);
const sizes = new Map();
const engine = {
  config: {
    numClasses: classes,
    labels: Array.from({ length: classes }, (_, i) => `class ${i}`),
    imageSize: 224,
  },
  maxBatch,
  async infer(input) {
    sizes.set(input.count, (sizes.get(input.count) ?? 0) + 1);
    if (delayMs > 0 && wait === 'spin') {
      const until = performance.now() + delayMs;
      await new Promise((r) => {
        const poll = () => (performance.now() >= until ? r() : setImmediate(poll));
        poll();
      });
    } else if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
    return new Float32Array(input.count * classes);
  },
};
const t0 = performance.now();
let frames = 0;
await lastValueFrom(
  fileBatch([file], { size: 224, maxBatch }).pipe(
    classify(engine),
    tap(() => frames++),
  ),
);
const s = (performance.now() - t0) / 1000;
const spread = [...sizes].sort((a, b) => a[0] - b[0]).map(([n, k]) => `${n}x${k}`);
console.log(
  `${frames} frames in ${s.toFixed(2)} s: ${(frames / s).toFixed(1)} frames/s; batches (size x count): ${spread.join(' ')}`,
);
