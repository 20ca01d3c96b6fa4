import { readFileSync } from 'node:fs';
import path from 'node:path';
import { EngineError } from '../../errors.js';
import { packageRoot } from '../../util/paths.js';

export type ElementType = 'f32' | 'f16';

export interface KernelSourceOptions {
  /** Replaces the line marked `// vitstream:element-type` (the storage type alias `T`). */
  elementType?: ElementType;
  /** Values for lines marked `// vitstream:const NAME` (array sizes cannot be override constants). */
  consts?: Record<string, number>;
}

/**
 * Reads `kernels/<name>.wgsl` and fills its few marked template slots: includes, the element
 * type and compile-time constants. Everything else is plain WGSL, readable as it is.
 */
export function kernelSource(name: string, opts: KernelSourceOptions = {}): string {
  const dir = path.join(packageRoot(), 'kernels');
  const read = (file: string) => {
    try {
      return readFileSync(path.join(dir, file), 'utf8');
    } catch (e) {
      throw new EngineError(`kernel source ${file} not found in ${dir}`, { input: file, cause: e });
    }
  };
  let text = read(`${name}.wgsl`).replace(/^\/\/ vitstream:include (\S+)\s*$/gm, (_, f: string) => read(f));
  if (opts.elementType) {
    const decl = opts.elementType === 'f16' ? 'enable f16;\nalias T = f16;' : 'alias T = f32;';
    text = text.replace(/^alias T = \w+; \/\/ vitstream:element-type$/m, decl);
    if (opts.elementType === 'f16') {
      // `enable` directives must precede every declaration: hoist them to the top.
      const enables = [...new Set(text.match(/^enable \w+;$/gm) ?? [])];
      text = `${enables.join('\n')}\n${text.replace(/^enable \w+;$/gm, '')}`;
    }
  }
  for (const [k, v] of Object.entries(opts.consts ?? {})) {
    const re = new RegExp(`^const ${k}: u32 = \\d+u; // vitstream:const ${k}$`, 'm');
    if (!re.test(text)) throw new EngineError(`kernel ${name}: no template constant ${k}`);
    text = text.replace(re, `const ${k}: u32 = ${v}u;`);
  }
  return text;
}

/** Compiles a compute pipeline, turning WGSL errors into an EngineError that names the kernel. */
export async function computePipeline(
  device: GPUDevice,
  label: string,
  code: string,
  entryPoint = 'main',
  constants?: Record<string, number>,
): Promise<GPUComputePipeline> {
  const module = device.createShaderModule({ label, code });
  const info = await module.getCompilationInfo();
  const errors = info.messages.filter((m) => m.type === 'error');
  if (errors.length > 0) {
    const lines = errors.map((m) => `  ${label}.wgsl:${m.lineNum}:${m.linePos} ${m.message}`).join('\n');
    throw new EngineError(`kernel ${label} does not compile:\n${lines}`, { input: label });
  }
  try {
    return await device.createComputePipelineAsync({ label, layout: 'auto', compute: { module, entryPoint, constants } });
  } catch (e) {
    throw new EngineError(`kernel ${label}: pipeline creation failed: ${(e as Error).message}`, { input: label, cause: e });
  }
}

/** One recorded dispatch of a forward pass. */
export interface Dispatch {
  label: string;
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  workgroups: [number, number, number];
}

/**
 * A bind group whose entry i is binding i. `undefined` skips a binding: with layout 'auto'
 * an entry point's layout holds only the bindings it uses.
 */
export function bindGroup(device: GPUDevice, label: string, pipeline: GPUComputePipeline, buffers: (GPUBuffer | undefined)[]): GPUBindGroup {
  const entries: GPUBindGroupEntry[] = [];
  buffers.forEach((buffer, binding) => buffer && entries.push({ binding, resource: { buffer } }));
  return device.createBindGroup({ label, layout: pipeline.getBindGroupLayout(0), entries });
}

/**
 * Splits a 1-D workgroup count over x and y: dispatch dimensions are capped at 65535 and a
 * 384x384 batch of 32 needs more. Kernels that use this loop with a grid stride.
 */
export function spread(workgroups: number): [number, number, number] {
  const x = Math.min(workgroups, 65535);
  return [x, Math.min(Math.ceil(workgroups / x), 65535), 1];
}
