// LayerNorm over the hidden dimension, one workgroup per row, statistics in f32 whatever the
// storage type (f16 sums of 768 squares lose too much). `inRowStride` lets the final norm read
// only the class-token rows (stride = tokens) instead of normalising every token. The row is
// read once into registers (PER_THREAD values per invocation, set from the model's hidden size),
// then mean and centred squares (two passes, for accuracy) are reduced from there.
// vitstream:if SUBGROUPS
enable subgroups;
// vitstream:end
alias T = f32; // vitstream:element-type

// vitstream:params (struct Params, declared in src/engine/kernels/layernorm.ts)

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<T>;
@group(0) @binding(2) var<storage, read> gamma: array<T>;
@group(0) @binding(3) var<storage, read> beta: array<T>;
@group(0) @binding(4) var<storage, read_write> y: array<T>;

const WG: u32 = 128u; // vitstream:const WG
const PER_THREAD: u32 = 6u; // vitstream:const PER_THREAD
const SUBGROUPS: u32 = 0u; // vitstream:const SUBGROUPS
// vitstream:include lib/row_sum.wgsl

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
  let D = params.hidden;
  let inBase = row * params.inRowStride * D;
  var s = 0.0;
  // vitstream:unroll i < PER_THREAD
  let d{i} = lid + {i}u * WG;
  var v{i} = 0.0;
  if (d{i} < D) { v{i} = f32(x[inBase + d{i}]); }
  s += v{i};
  // vitstream:end
  let mean = rowSum(s, lid, sg, nsg) / f32(D);
  var q = 0.0;
  // vitstream:unroll i < PER_THREAD
  if (d{i} < D) { let c = v{i} - mean; q += c * c; }
  // vitstream:end
  let inv = inverseSqrt(rowSum(q, lid, sg, nsg) / f32(D) + params.eps);
  let outBase = row * D;
  // vitstream:unroll i < PER_THREAD
  if (d{i} < D) { y[outBase + d{i}] = T((v{i} - mean) * inv * f32(gamma[d{i}]) + f32(beta[d{i}])); }
  // vitstream:end
}
