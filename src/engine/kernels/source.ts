import { readFileSync } from 'node:fs';
import path from 'node:path';
import { EngineError } from '../../errors.js';
import { packageRoot } from '../../util/paths.js';
import type { ParamsLayout } from './params.js';

export type ElementType = 'f32' | 'f16';

export interface KernelSourceOptions {
  /** Replaces the line marked `// vitstream:element-type` (the storage type alias `T`). */
  elementType?: ElementType;
  /** Values for lines marked `// vitstream:const NAME` (array sizes cannot be override constants). */
  consts?: Record<string, number>;
  /** The kernel's uniform params: their `struct Params` replaces the line `// vitstream:params`. */
  params?: ParamsLayout;
}

/**
 * Reads `kernels/<name>.wgsl` (entry kernels; the fragments they include live in kernels/lib) and
 * fills its few marked template slots: includes, the element type, the params struct,
 * compile-time constants and if/unroll blocks (docs/kernels.md). Everything else is plain WGSL.
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
  // Includes nest, each path relative to the including file (lib/epilogue_int8.wgsl -> int8_pack.wgsl).
  const expand = (file: string): string =>
    read(file).replace(/^\/\/ vitstream:include (\S+)\s*$/gm, (_, f: string) =>
      expand(path.join(path.dirname(file), f)),
    );
  let text = expand(`${name}.wgsl`);
  if (opts.elementType) {
    const decl = opts.elementType === 'f16' ? 'enable f16;\nalias T = f16;' : 'alias T = f32;';
    text = text.replace(/^alias T = \w+; \/\/ vitstream:element-type$/m, decl);
    if (opts.elementType === 'f16') {
      // `enable` directives must precede every declaration: hoist them to the top.
      const enables = [...new Set(text.match(/^enable \w+;$/gm) ?? [])];
      text = `${enables.join('\n')}\n${text.replace(/^enable \w+;$/gm, '')}`;
    }
  }
  const slot = /^\/\/ vitstream:params\b.*$/m;
  if (slot.test(text) !== (opts.params !== undefined))
    throw new EngineError(
      `kernel ${name}: ${opts.params ? 'no // vitstream:params line for its params' : 'params not given for its // vitstream:params line'}`,
      { input: name },
    );
  if (opts.params) text = text.replace(slot, opts.params.wgsl);
  for (const [k, v] of Object.entries(opts.consts ?? {})) {
    const re = new RegExp(`^const ${k}: u32 = \\d+u; // vitstream:const ${k}$`, 'm');
    if (!re.test(text)) throw new EngineError(`kernel ${name}: no template constant ${k}`);
    text = text.replace(re, `const ${k}: u32 = ${v}u;`);
  }
  return expandBlocks(text, name);
}

/**
 * Expands the two block directives (nestable, each closed by `// vitstream:end`):
 *
 * - `// vitstream:unroll i < EXPR`: the body is repeated for i = 0 .. EXPR-1 with `{i}` replaced
 *   by the index and `{=EXPR}` by its value. Subgroup matrices and per-lane registers held in
 *   arrays indexed by loop counters can end up in local memory; unrolled named values cannot.
 * - `// vitstream:if EXPR` ... [`// vitstream:else` ...]: the first part if EXPR is not 0, else
 *   the second: variants that differ by a few lines (WIDE loads, split-K output, subgroups).
 *
 * EXPR is integer arithmetic (+ - * / %, `!`, parentheses) over numbers, the module's `const`
 * declarations and the indices of the enclosing unrolls (`acc{=g * 2 + i}{j}`).
 */
export function expandBlocks(text: string, kernel: string): string {
  const lines = text.split('\n');
  const directive = /^\s*\/\/ vitstream:(unroll|if|else|end)\b\s*(.*?)\s*$/;
  const kindAt = (i: number) => directive.exec(lines[i])?.[1];
  const fail = (why: string, line: number): never => {
    throw new EngineError(`kernel ${kernel}: ${why} at line ${line + 1}`);
  };
  /** The `end` closing the block opened at line i, and its `else` if an `if` has one. */
  const closing = (i: number, to: number): { end: number; otherwise?: number } => {
    let depth = 1;
    let otherwise: number | undefined;
    for (let j = i + 1; j < to; j++) {
      const kind = kindAt(j);
      if (kind === 'unroll' || kind === 'if') depth++;
      else if (kind === 'end' && --depth === 0) return { end: j, otherwise };
      else if (kind === 'else' && depth === 1) {
        if (kindAt(i) !== 'if' || otherwise !== undefined) fail('vitstream:else without its vitstream:if', j);
        otherwise = j;
      }
    }
    return fail(`unclosed vitstream:${kindAt(i)}`, i);
  };
  const expand = (from: number, to: number, vars: Record<string, number>): string[] => {
    const sub = (expr: string) => expr.replace(/\b[A-Za-z_]\w*\b/g, (w) => (w in vars ? String(vars[w]) : w));
    const value = (expr: string) => constExpr(text, sub(expr), kernel);
    const out: string[] = [];
    for (let i = from; i < to; i++) {
      const m = directive.exec(lines[i]);
      if (!m) {
        out.push(
          lines[i]
            .replace(/\{=([^}]+)\}/g, (_, expr: string) => String(value(expr)))
            .replace(/\{(\w+)\}/g, (all, v: string) => (v in vars ? String(vars[v]) : all)),
        );
        continue;
      }
      const [, kind, args] = m;
      if (kind === 'else' || kind === 'end') fail(`vitstream:${kind} without an open block`, i);
      const { end, otherwise } = closing(i, to);
      if (kind === 'if') {
        if (value(args) !== 0) out.push(...expand(i + 1, otherwise ?? end, vars));
        else if (otherwise !== undefined) out.push(...expand(otherwise + 1, end, vars));
      } else {
        const u = /^(\w+) < (.+)$/.exec(args) ?? fail(`expected 'vitstream:unroll i < COUNT'`, i);
        const count = value(u[2]);
        for (let k = 0; k < count; k++) out.push(...expand(i + 1, end, { ...vars, [u[1]]: k }));
      }
      i = end;
    }
    return out;
  };
  return expand(0, lines.length, {}).join('\n');
}

/** Evaluates integer arithmetic (+ - * / %, !, parentheses, WGSL `const` names) as WGSL's u32 would. */
function constExpr(text: string, expr: string, kernel: string, depth = 0): number {
  const tokens = expr.match(/\d+u?|\w+|[-+*/%()!]/g) ?? [];
  let pos = 0;
  const fail = (why: string): never => {
    throw new EngineError(`kernel ${kernel}: cannot evaluate '${expr}': ${why}`);
  };
  const atom = (): number => {
    const t = tokens[pos++];
    if (t === undefined) return fail('unexpected end');
    if (t === '!') return atom() === 0 ? 1 : 0;
    if (t === '(') {
      const v = sum();
      if (tokens[pos++] !== ')') fail('missing )');
      return v;
    }
    if (/^\d+u?$/.test(t)) return Number.parseInt(t, 10);
    if (/^\w+$/.test(t)) {
      if (depth > 16) fail('constants nest too deep');
      const decl = new RegExp(`^const ${t}(?:: u32)? = (.+?);`, 'm').exec(text);
      if (!decl) fail(`no const ${t}`);
      return constExpr(text, decl![1], kernel, depth + 1);
    }
    return fail(`unexpected '${t}'`);
  };
  const product = (): number => {
    let v = atom();
    while (tokens[pos] === '*' || tokens[pos] === '/' || tokens[pos] === '%') {
      const op = tokens[pos++];
      const r = atom();
      v = op === '*' ? v * r : op === '/' ? Math.floor(v / r) : v % r;
    }
    return v;
  };
  const sum = (): number => {
    let v = product();
    while (tokens[pos] === '+' || tokens[pos] === '-')
      v = tokens[pos++] === '+' ? v + product() : v - product();
    return v;
  };
  const v = sum();
  if (pos !== tokens.length) fail('trailing tokens');
  return v;
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
    return await device.createComputePipelineAsync({
      label,
      layout: 'auto',
      compute: { module, entryPoint, constants },
    });
  } catch (e) {
    throw new EngineError(`kernel ${label}: pipeline creation failed: ${(e as Error).message}`, {
      input: label,
      cause: e,
    });
  }
}

/** One recorded dispatch of a forward pass. */
export interface Dispatch {
  label: string;
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  workgroups: [number, number, number];
}

/** A kernel's binding names in binding order, as its WGSL declares them: @binding(i) is names[i]. */
export type BindingNames = readonly string[];

/**
 * Buffers by binding name. A name left out (or undefined) is a binding the entry point does not
 * use: with layout 'auto' its layout holds only the bindings it uses.
 */
export type BindingBuffers<N extends BindingNames = BindingNames> = {
  readonly [K in N[number]]?: GPUBuffer;
};

/** A bind group from buffers by name, `names` being the kernel's bindings (its module declares them). */
export function bindGroup<const N extends BindingNames>(
  device: GPUDevice,
  label: string,
  pipeline: GPUComputePipeline,
  names: N,
  buffers: BindingBuffers<N>,
): GPUBindGroup {
  const entries: GPUBindGroupEntry[] = [];
  for (const [name, buffer] of Object.entries(buffers as Record<string, GPUBuffer | undefined>)) {
    const binding = names.indexOf(name);
    if (binding < 0)
      throw new EngineError(`kernel ${label}: no binding named ${name} (it has ${names.join(', ')})`, {
        input: name,
      });
    if (buffer) entries.push({ binding, resource: { buffer } });
  }
  return device.createBindGroup({ label, layout: pipeline.getBindGroupLayout(0), entries });
}

/**
 * Splits a 1-D workgroup count over x and y: a dispatch dimension is capped at the device's
 * maxComputeWorkgroupsPerDimension (65535 by default) and a 384x384 batch of 32 needs more.
 * Kernels dispatched this way rebuild the index from num_workgroups, and grid-stride past y's cap.
 */
export function spread(device: GPUDevice, workgroups: number): [number, number, number] {
  const max = device.limits.maxComputeWorkgroupsPerDimension;
  const n = Math.max(1, workgroups);
  const x = Math.min(n, max);
  return [x, Math.min(Math.ceil(n / x), max), 1];
}

/**
 * A grid-stride kernel's dispatch: `workgroups`, but at most `rows` full rows of the dimension
 * limit (plenty to fill the largest GPU); the kernel loops over the rest.
 */
export function gridStride(device: GPUDevice, workgroups: number, rows = 4): [number, number, number] {
  return spread(device, Math.min(workgroups, rows * device.limits.maxComputeWorkgroupsPerDimension));
}
