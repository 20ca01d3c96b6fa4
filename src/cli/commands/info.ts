import type { Command } from 'commander';
import { listAdapters, openGpu } from '../../engine/gpu.js';
import { resolveFfmpeg } from '../../video/ffmpeg.js';
import { nvdecSupport } from '../../video/hwaccel.js';

/** Which decode paths this machine has: the CPU (any working ffmpeg) and NVDEC (the 1-frame probe). */
async function decodePaths(): Promise<{
  ffmpeg?: string;
  version?: string;
  cpu: boolean;
  nvdec: boolean;
  nvdecReason?: string;
}> {
  const ff = await resolveFfmpeg().catch((e: Error) => e);
  if (ff instanceof Error) return { cpu: false, nvdec: false, nvdecReason: ff.message };
  const nvdec = await nvdecSupport(ff);
  return {
    ffmpeg: ff.path,
    version: ff.version,
    cpu: true,
    nvdec: nvdec.available,
    nvdecReason: nvdec.reason,
  };
}

export function registerInfo(program: Command): void {
  program
    .command('info')
    .description(
      'show the WebGPU adapters, the features the engine will use, its limits, and which decode paths (CPU, NVDEC) work',
    )
    .option('--adapter <name|index>', 'adapter to describe (default: high-performance)')
    .option('--json', 'print JSON')
    .action(async (opts: { adapter?: string; json?: boolean }) => {
      const decode = await decodePaths();
      const adapters = await listAdapters();
      const gpu = await openGpu({ adapter: opts.adapter });
      const report = {
        adapters: adapters.map((a, i) => ({ index: i, ...a.info, description: a.info.description })),
        selected: gpu.info,
        features: [...gpu.features],
        subgroupSizes: [gpu.subgroupMinSize, gpu.subgroupMaxSize],
        subgroupMatrixConfigs: gpu.subgroupMatrixConfigs,
        tensorCores: { f16: gpu.hasF16TensorCores, i8: gpu.hasI8TensorCores },
        limits: gpu.limits,
        decode,
      };
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      } else {
        const lines = [
          `adapter:    ${gpu.info.description || gpu.info.device} (${gpu.info.vendor} ${gpu.info.architecture})`,
          `features:   ${report.features.join(', ') || '(none)'}`,
          `subgroups:  ${gpu.subgroupMinSize}-${gpu.subgroupMaxSize} wide`,
          `tensor cores (subgroup matrices): f16 ${gpu.hasF16TensorCores ? 'yes' : 'no'}, i8 ${gpu.hasI8TensorCores ? 'yes' : 'no'}`,
          ...gpu.subgroupMatrixConfigs.map(
            (c) =>
              `  ${c.componentType} x ${c.componentType} -> ${c.resultComponentType}  ${c.M}x${c.N}x${c.K}`,
          ),
          `max storage binding: ${(gpu.limits.maxStorageBufferBindingSize / 2 ** 20).toFixed(0)} MiB, workgroup storage ${gpu.limits.maxComputeWorkgroupStorageSize} B`,
          `decode:     ${decode.ffmpeg ? `${decode.ffmpeg} (${decode.version}); ` : ''}cpu ${decode.cpu ? 'yes' : 'no'}, nvdec (--hwaccel cuda) ${decode.nvdec ? 'yes' : `no: ${decode.nvdecReason}`}`,
          `all adapters: ${report.adapters.map((a) => `${a.index}: ${a.description || a.device}`).join('; ')}`,
        ];
        process.stdout.write(`${lines.join('\n')}\n`);
      }
      gpu.device.destroy();
    });
}
