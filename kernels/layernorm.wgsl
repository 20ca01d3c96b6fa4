// LayerNorm over the hidden dimension, one workgroup per row, statistics in f32 whatever the
// storage type (f16 sums of 768 squares lose too much). `inRowStride` lets the final norm read
// only the class-token rows (stride = tokens) instead of normalising every token.
alias T = f32; // vitstream:element-type

struct Params {
  rows: u32,
  hidden: u32,
  inRowStride: u32,
  eps: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<T>;
@group(0) @binding(2) var<storage, read> gamma: array<T>;
@group(0) @binding(3) var<storage, read> beta: array<T>;
@group(0) @binding(4) var<storage, read_write> y: array<T>;

const WG = 128u;
var<workgroup> partialSum: array<f32, WG>;
var<workgroup> partialSq: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= params.rows) { return; } // uniform per workgroup, so barriers stay uniform
  let D = params.hidden;
  let inBase = row * params.inRowStride * D;
  // Two-pass (mean, then centred squares) for accuracy; the row is tiny and stays in cache.
  var s = 0.0;
  for (var d = lid; d < D; d += WG) { s += f32(x[inBase + d]); }
  partialSum[lid] = s;
  workgroupBarrier();
  for (var w = WG / 2u; w > 0u; w >>= 1u) {
    if (lid < w) { partialSum[lid] += partialSum[lid + w]; }
    workgroupBarrier();
  }
  let mean = partialSum[0] / f32(D);
  var q = 0.0;
  for (var d = lid; d < D; d += WG) { let c = f32(x[inBase + d]) - mean; q += c * c; }
  partialSq[lid] = q;
  workgroupBarrier();
  for (var w = WG / 2u; w > 0u; w >>= 1u) {
    if (lid < w) { partialSq[lid] += partialSq[lid + w]; }
    workgroupBarrier();
  }
  let inv = inverseSqrt(partialSq[0] / f32(D) + params.eps);
  let outBase = row * D;
  for (var d = lid; d < D; d += WG) {
    y[outBase + d] = T((f32(x[inBase + d]) - mean) * inv * f32(gamma[d]) + f32(beta[d]));
  }
}
