import type { Command } from 'commander';
import { listAdapters, openGpu } from '../../engine/gpu.js';

export function registerInfo(program: Command): void {
  program
    .command('info')
    .description('show the WebGPU adapters, the features the engine will use and its limits')
    .option('--adapter <name|index>', 'adapter to describe (default: high-performance)')
    .option('--json', 'print JSON')
    .action(async (opts: { adapter?: string; json?: boolean }) => {
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
          `all adapters: ${report.adapters.map((a) => `${a.index}: ${a.description || a.device}`).join('; ')}`,
        ];
        process.stdout.write(`${lines.join('\n')}\n`);
      }
      gpu.device.destroy();
    });
}
