// Fused multi-head attention with int8 input and output (INT8 mode 2), portable: the qkv GEMM
// wrote q, k and v as packed int8 with per-tensor scales, and the proj GEMM reads the output as
// packed int8. Same walk as kernels/attention.wgsl (one thread per query row, 64 queries of one
// (image, head) per workgroup, key tiles staged in workgroup memory, online softmax); the int8
// values are used as integers (q·k is exact in f32: 64 * 127^2 < 2^24) and the scales enter once:
// scores = q·k * scale (head scale * q scale * k scale), out = softmax · v * outScale (v scale /
// output scale), rounded half to even and saturated at +-127 as the other INT8 kernels do.
const HEAD_DIM: u32 = 64u; // vitstream:const HEAD_DIM

struct Params {
  count: u32,
  tokens: u32,
  hidden: u32,    // D = heads * HEAD_DIM
  scale: f32,
  outScale: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> qkv: array<u32>;        // [N * T, 3D / 4]: q | k | v
@group(0) @binding(2) var<storage, read_write> out: array<u32>;  // [N * T, D / 4]

const QUERIES = 64u;
const KEY_TILE = 32u;
const HW = HEAD_DIM / 4u;  // words per head row
var<workgroup> keys: array<array<f32, HEAD_DIM>, KEY_TILE>;
var<workgroup> values: array<array<f32, HEAD_DIM>, KEY_TILE>;

// vitstream:include int8_pack.wgsl

fn unpack(w: u32) -> vec4<f32> {
  return vec4<f32>(unpack4(w));
}

@compute @workgroup_size(QUERIES)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let Tn = params.tokens;
  let DW = params.hidden / 4u;
  let rowW = 3u * DW;
  let headW = wid.y * HW;
  let base = wid.z * Tn;
  let qi = wid.x * QUERIES + lid;
  let hasQuery = qi < Tn;

  var q: array<f32, HEAD_DIM>;
  var acc: array<f32, HEAD_DIM>;
  if (hasQuery) {
    let qoff = (base + qi) * rowW + headW;
    for (var w = 0u; w < HW; w++) {
      let v = unpack(qkv[qoff + w]);
      for (var i = 0u; i < 4u; i++) { q[4u * w + i] = v[i]; }
    }
  }
  var runningMax = -3.0e38;
  var runningSum = 0.0;

  for (var k0 = 0u; k0 < Tn; k0 += KEY_TILE) {
    for (var e = lid; e < KEY_TILE * HW; e += QUERIES) {
      let j = e / HW;
      let w = e % HW;
      var kv = vec4<f32>();
      var vv = vec4<f32>();
      if (k0 + j < Tn) {
        let off = (base + k0 + j) * rowW + headW + w;
        kv = unpack(qkv[off + DW]);
        vv = unpack(qkv[off + 2u * DW]);
      }
      for (var i = 0u; i < 4u; i++) {
        keys[j][4u * w + i] = kv[i];
        values[j][4u * w + i] = vv[i];
      }
    }
    workgroupBarrier();
    if (hasQuery) {
      let n = min(KEY_TILE, Tn - k0);
      var s: array<f32, KEY_TILE>;
      var tileMax = runningMax;
      for (var j = 0u; j < n; j++) {
        var dot = 0.0;
        for (var d = 0u; d < HEAD_DIM; d++) { dot = fma(q[d], keys[j][d], dot); }
        s[j] = dot * params.scale;
        tileMax = max(tileMax, s[j]);
      }
      let correction = exp(runningMax - tileMax);
      runningSum *= correction;
      for (var d = 0u; d < HEAD_DIM; d++) { acc[d] *= correction; }
      for (var j = 0u; j < n; j++) {
        let p = exp(s[j] - tileMax);
        runningSum += p;
        for (var d = 0u; d < HEAD_DIM; d++) { acc[d] = fma(p, values[j][d], acc[d]); }
      }
      runningMax = tileMax;
    }
    workgroupBarrier();
  }
  if (hasQuery) {
    let ooff = (base + qi) * DW + headW;
    let f = params.outScale / runningSum;
    for (var w = 0u; w < HW; w++) {
      out[ooff + w] = quantize4(vec4<f32>(acc[4u * w], acc[4u * w + 1u], acc[4u * w + 2u], acc[4u * w + 3u]), f);
    }
  }
}
