// What this Dawn accepts of WGSL's subgroup matrices, for kernel designs that depend on it (issue #23):
// f16 fragments loaded from / stored to workgroup arrays of u32 vectors (16-byte staging stores, design 3),
// an f32 result turned into an f16 one, loads with stride 0 (a bias row broadcast into a fragment), scalar
// ops. Each case is a tiny compute shader; the table says whether Dawn compiled it and made a pipeline.
// Usage (after a build, on a machine with subgroup matrices): node bench/subgroup-matrix-probe.mjs
import { openGpu } from '../dist/src/engine/gpu.js';

const head = 'enable f16;\nenable subgroups;\nenable chromium_experimental_subgroup_matrix;\n';
const out = '@group(0) @binding(0) var<storage, read_write> o: array<f32>;\n';
const main = (body) => `@compute @workgroup_size(128) fn main(@builtin(subgroup_id) sg: u32) {\n${body}\n}`;
const cases = {
  'f16 left from array<vec4<f16>> (today)': `var<workgroup> t: array<vec4<f16>, 256>;\n${out}${main(
    'let a = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&t, sg * 64u, 4u);\n' +
      'var c = subgroup_matrix_result<f32, 16, 16>(); c = subgroupMatrixMultiplyAccumulate(a, subgroup_matrix_right<f16, 16, 16>(), c);\n' +
      'subgroupMatrixStore<row_major>(&o, 0u, c, 16u);',
  )}`,
  'f16 left from array<vec4<u32>>': `var<workgroup> t: array<vec4<u32>, 128>;\n${out}${main(
    'let a = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&t, sg * 32u, 2u);\n' +
      'var c = subgroup_matrix_result<f32, 16, 16>(); c = subgroupMatrixMultiplyAccumulate(a, subgroup_matrix_right<f16, 16, 16>(), c);\n' +
      'subgroupMatrixStore<row_major>(&o, 0u, c, 16u);',
  )}`,
  'f16 left from array<vec8-like mat2x4<f16>>': `var<workgroup> t: array<mat2x4<f16>, 128>;\n${out}${main(
    'let a = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&t, sg * 32u, 2u);\n' +
      'var c = subgroup_matrix_result<f32, 16, 16>(); c = subgroupMatrixMultiplyAccumulate(a, subgroup_matrix_right<f16, 16, 16>(), c);\n' +
      'subgroupMatrixStore<row_major>(&o, 0u, c, 16u);',
  )}`,
  'f32 result -> f16 result (value constructor)': `${out}var<workgroup> h: array<f16, 1024>;\n${main(
    'var c = subgroup_matrix_result<f32, 16, 16>();\nlet d = subgroup_matrix_result<f16, 16, 16>(c);\n' +
      'subgroupMatrixStore<row_major>(&h, 0u, d, 16u); o[0] = f32(h[0]);',
  )}`,
  'f16 result stored to storage array<vec4<f16>>': `@group(0) @binding(0) var<storage, read_write> o: array<vec4<f16>>;\n${main(
    'var c = subgroup_matrix_result<f16, 16, 16>();\nc = subgroupMatrixMultiplyAccumulate(subgroup_matrix_left<f16, 16, 16>(), subgroup_matrix_right<f16, 16, 16>(), c);\n' +
      'subgroupMatrixStore<row_major>(&o, sg * 64u, c, 4u);',
  )}`,
  'result load with stride 0 (bias broadcast)': `${out}@group(0) @binding(1) var<storage, read> b: array<f32>;\n${main(
    'let c = subgroupMatrixLoad<subgroup_matrix_result<f32, 16, 16>, row_major>(&b, 0u, 0u);\nsubgroupMatrixStore<row_major>(&o, 0u, c, 16u);',
  )}`,
  'subgroupMatrixScalarAdd / Multiply': `${out}${main(
    'var c = subgroup_matrix_result<f32, 16, 16>();\nc = subgroupMatrixScalarMultiply(subgroupMatrixScalarAdd(c, 1.0), 2.0);\nsubgroupMatrixStore<row_major>(&o, 0u, c, 16u);',
  )}`,
  'f32 result + result (elementwise add)': `${out}${main(
    'var c = subgroup_matrix_result<f32, 16, 16>();\nlet d = c + c;\nsubgroupMatrixStore<row_major>(&o, 0u, d, 16u);',
  )}`,
};

const gpu = await openGpu();
if (!gpu.device.features.has('chromium-experimental-subgroup-matrix')) {
  console.log('subgroup-matrix-probe: this adapter has no subgroup matrices; nothing to probe');
  process.exit(0);
}
const rows = [];
for (const [name, code] of Object.entries(cases)) {
  const module = gpu.device.createShaderModule({ code: head + code });
  const info = await module.getCompilationInfo();
  const errors = info.messages.filter((m) => m.type === 'error').map((m) => m.message.split('\n')[0]);
  let pipeline = 'no';
  if (errors.length === 0) {
    gpu.device.pushErrorScope('validation');
    gpu.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
    const e = await gpu.device.popErrorScope();
    pipeline = e ? `no: ${e.message.split('\n')[0].slice(0, 100)}` : 'yes';
  }
  rows.push(`| ${name} | ${errors.length === 0 ? 'yes' : 'no'} | ${errors[0]?.slice(0, 120) ?? pipeline} |`);
}
console.log('| case | compiles | pipeline / first error |\n|---|---|---|');
console.log(rows.join('\n'));
gpu.device.destroy();
