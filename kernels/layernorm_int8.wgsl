// LayerNorm whose output is the next GEMM's int8 input (INT8 mode 2): statistics in f32 as in
// layernorm.wgsl, then each 4 normalised values quantised with the GEMM's activation scale and
// packed into one word. One workgroup per row, read once into registers as vec4s (PER_THREAD per
// invocation, set from the model's hidden size, a multiple of 4).
// vitstream:if SUBGROUPS
enable subgroups;
// vitstream:end
enable f16;

// vitstream:params (struct Params, declared in src/engine/kernels/layernorm-int8.ts)

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f16>>;
@group(0) @binding(2) var<storage, read> gamma: array<vec4<f16>>;
@group(0) @binding(3) var<storage, read> beta: array<vec4<f16>>;
@group(0) @binding(4) var<storage, read_write> y: array<u32>;

const WG: u32 = 128u; // vitstream:const WG
const PER_THREAD: u32 = 2u; // vitstream:const PER_THREAD
const SUBGROUPS: u32 = 0u; // vitstream:const SUBGROUPS
// vitstream:include lib/row_sum.wgsl
// vitstream:include lib/int8_pack.wgsl

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        // vitstream:if SUBGROUPS
        @builtin(subgroup_id) sg: u32, @builtin(num_subgroups) nsg: u32,
        // vitstream:end
        @builtin(local_invocation_index) lid: u32) {
  // vitstream:if !SUBGROUPS
  let sg = 0u;
  let nsg = 0u;
  // vitstream:end
  let row = wid.x + wid.y * nwg.x;
  if (row >= params.rows) { return; } // uniform per workgroup, so barriers stay uniform
  let D4 = params.hidden / 4u;
  let base = row * D4;
  var s = 0.0;
  // vitstream:unroll i < PER_THREAD
  let d{i} = lid + {i}u * WG;
  var v{i} = vec4<f32>();
  if (d{i} < D4) { v{i} = vec4<f32>(x[base + d{i}]); }
  s += (v{i}.x + v{i}.y) + (v{i}.z + v{i}.w);
  // vitstream:end
  let mean = rowSum(s, lid, sg, nsg) / f32(params.hidden);
  var q = 0.0;
  // vitstream:unroll i < PER_THREAD
  if (d{i} < D4) { let c = v{i} - mean; q += dot(c, c); }
  // vitstream:end
  let inv = inverseSqrt(rowSum(q, lid, sg, nsg) / f32(params.hidden) + params.eps);
  // vitstream:unroll i < PER_THREAD
  if (d{i} < D4) {
    let v = (v{i} - mean) * inv * vec4<f32>(gamma[d{i}]) + vec4<f32>(beta[d{i}]);
    y[base + d{i}] = quantize4(v, params.invScale);
  }
  // vitstream:end
}
