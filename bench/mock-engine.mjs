// An engine without a GPU for the host-side benches (pipeline-mock, host-cost), shaped like the GPU
// engines: two slots, a batch runs after the previous one on its slot, infer() copies its input into
// the slot's staging memory (their fillStaging) and beginBatch() (when `direct`) hands out views into it.
// `run(count)` gives a batch's logits: at once, or after a wait the bench chooses.
import { FramesBatch } from '../dist/src/engine/direct-batch.js';
import { yuvFrameBytes } from '../dist/src/engine/yuv.js';

export function twoSlotMockEngine({ size, classes, maxBatch, direct, run }) {
  const slots = [0, 1].map(() => ({
    busy: Promise.resolve(),
    staging: new Uint8Array(maxBatch * size * size * 3),
  }));
  let next = 0;
  const takeSlot = () => slots[next++ % 2];
  return {
    config: {
      numClasses: classes,
      labels: Array.from({ length: classes }, (_, i) => `class ${i}`),
      imageSize: size,
    },
    backend: 'webgpu',
    precision: 'fp16',
    maxBatch,
    infer(input) {
      const slot = takeSlot();
      const done = slot.busy.then(() => {
        slot.staging.set(input.data);
        return run(input.count);
      });
      slot.busy = done.catch(() => undefined);
      return done;
    },
    ...(direct && {
      beginBatch(request) {
        const slot = takeSlot();
        const previous = slot.busy;
        let release;
        slot.busy = new Promise((resolve) => (release = resolve));
        const frameBytes = request.kind === 'rgb' ? size * size * 3 : yuvFrameBytes(size, size);
        return previous.then(
          () =>
            new FramesBatch(
              request.kind,
              request.count,
              frameBytes,
              slot.staging.buffer,
              request.color,
              (_colors, n) => {
                const r = Promise.resolve(run(n));
                release(r.catch(() => undefined));
                return r;
              },
              () => release(),
            ),
        );
      },
    }),
    async close() {},
  };
}
