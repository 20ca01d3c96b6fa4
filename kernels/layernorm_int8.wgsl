// LayerNorm whose output is the next GEMM's int8 input (INT8 mode 2): statistics in f32 as in
// layernorm.wgsl, then each 4 normalised values quantised with the GEMM's activation scale and
// packed into one word. One workgroup per row; hidden is a multiple of 4.
enable f16;

struct Params {
  rows: u32,
  hidden: u32,
  eps: f32,
  invScale: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f16>>;
@group(0) @binding(2) var<storage, read> gamma: array<vec4<f16>>;
@group(0) @binding(3) var<storage, read> beta: array<vec4<f16>>;
@group(0) @binding(4) var<storage, read_write> y: array<u32>;

const WG = 128u;
var<workgroup> partial: array<f32, WG>;

fn reduce(v: f32, lid: u32) -> f32 {
  partial[lid] = v;
  workgroupBarrier();
  for (var w = WG / 2u; w > 0u; w >>= 1u) {
    if (lid < w) { partial[lid] += partial[lid + w]; }
    workgroupBarrier();
  }
  let total = partial[0];
  workgroupBarrier();
  return total;
}

fn quantize4(v: vec4<f32>, invScale: f32) -> u32 {
  let q = vec4<i32>(clamp(round(v * invScale), vec4<f32>(-127.0), vec4<f32>(127.0)));
  let b = bitcast<vec4<u32>>(q) & vec4<u32>(0xffu);
  return b.x | (b.y << 8u) | (b.z << 16u) | (b.w << 24u);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= params.rows) { return; } // uniform per workgroup, so barriers stay uniform
  let D4 = params.hidden / 4u;
  let base = row * D4;
  var s = 0.0;
  for (var d = lid; d < D4; d += WG) { let v = vec4<f32>(x[base + d]); s += v.x + v.y + v.z + v.w; }
  let mean = reduce(s, lid) / f32(params.hidden);
  var q = 0.0;
  for (var d = lid; d < D4; d += WG) { let c = vec4<f32>(x[base + d]) - mean; q += dot(c, c); }
  let inv = inverseSqrt(reduce(q, lid) / f32(params.hidden) + params.eps);
  for (var d = lid; d < D4; d += WG) {
    let v = (vec4<f32>(x[base + d]) - mean) * inv * vec4<f32>(gamma[d]) + vec4<f32>(beta[d]);
    y[base + d] = quantize4(v, params.invScale);
  }
}
