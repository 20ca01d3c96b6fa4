import { from, lastValueFrom, mergeMap, range, map } from 'rxjs';
import { openPredictionFile } from '../dist/src/sinks/file.js';
const N = Number(process.argv[2] ?? 50000);
const p = (i) => ({ streamId: '/data/clip1.mp4', frame: i, ptsMs: i * 33.3, receivedAtMs: Date.now(), latencyMs: 12.5, file: undefined,
  top: [0,1,2,3,4].map((k) => ({ index: k * 7, label: `class ${k * 7}`, score: 0.1 * k })) });
for (let round = 0; round < 3; round++) {
  const sink = openPredictionFile(`${process.argv[3] ?? 'sink-bench.jsonl'}`);
  const elu0 = performance.eventLoopUtilization(); const t0 = performance.now();
  await lastValueFrom(range(0, N).pipe(map(p), mergeMap((x) => from(sink.write(x)), 1)), { defaultValue: undefined });
  await sink.close();
  const ms = performance.now() - t0; const busy = performance.eventLoopUtilization(elu0).active;
  console.log(`round ${round}: ${N} predictions ${(1000*ms/N).toFixed(1)} us each wall, ${(1000*busy/N).toFixed(1)} us busy`);
}
