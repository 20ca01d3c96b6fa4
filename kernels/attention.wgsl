// Fused multi-head attention, portable: softmax(q kᵀ · scale) v without ever writing the
// T x T score matrix. One thread owns one query row; a workgroup of 64 queries of one
// (image, head) walks the keys in tiles of KEY_TILE staged in workgroup memory, with an online
// softmax (running max and sum, rescaled once per tile) as in flash attention.
// INT8_IO = 1 (INT8 mode 2): q, k, v are packed int8 from the qkv GEMM (per-tensor scales) and the
// output is packed int8 for the proj GEMM; the scales come in through params (scale = head scale
// * q scale * k scale, outScale = v scale / output scale) and everything between is as in float.
alias T = f32; // vitstream:element-type
const HEAD_DIM: u32 = 64u; // vitstream:const HEAD_DIM
const INT8_IO: u32 = 0u; // vitstream:const INT8_IO
// vitstream:include lib/int8_pack.wgsl

// vitstream:params (struct Params, declared in src/engine/kernels/attention.ts)

@group(0) @binding(0) var<uniform> params: Params;
// [N * T, 3D]: q | k | v, heads contiguous; out [N * T, D]. Element e of either, as f32.
// vitstream:if INT8_IO
@group(0) @binding(1) var<storage, read> qkv: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;
fn qkvAt(e: u32) -> f32 { return f32(unpack4(qkv[e / 4u])[e % 4u]); }
// vitstream:else
@group(0) @binding(1) var<storage, read> qkv: array<T>;
@group(0) @binding(2) var<storage, read_write> out: array<T>;
fn qkvAt(e: u32) -> f32 { return f32(qkv[e]); }
// vitstream:end

const QUERIES = 64u;
const KEY_TILE = 32u;
var<workgroup> keys: array<array<f32, HEAD_DIM>, KEY_TILE>;
var<workgroup> values: array<array<f32, HEAD_DIM>, KEY_TILE>;

@compute @workgroup_size(QUERIES)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let Tn = params.tokens;
  let D = params.hidden;
  let head = wid.y;
  let image = wid.z;
  let qi = wid.x * QUERIES + lid;
  let rowStride = 3u * D;
  let base = image * Tn;
  let hasQuery = qi < Tn;

  var q: array<f32, HEAD_DIM>;
  var acc: array<f32, HEAD_DIM>;
  if (hasQuery) {
    let qoff = (base + qi) * rowStride + head * HEAD_DIM;
    for (var d = 0u; d < HEAD_DIM; d++) { q[d] = qkvAt(qoff + d) * params.scale; }
  }
  var runningMax = -3.0e38;
  var runningSum = 0.0;

  for (var k0 = 0u; k0 < Tn; k0 += KEY_TILE) {
    for (var e = lid; e < KEY_TILE * HEAD_DIM; e += QUERIES) {
      let j = e / HEAD_DIM;
      let d = e % HEAD_DIM;
      var kv = 0.0;
      var vv = 0.0;
      if (k0 + j < Tn) {
        let off = (base + k0 + j) * rowStride + head * HEAD_DIM + d;
        kv = qkvAt(off + D);
        vv = qkvAt(off + 2u * D);
      }
      keys[j][d] = kv;
      values[j][d] = vv;
    }
    workgroupBarrier();
    if (hasQuery) {
      let n = min(KEY_TILE, Tn - k0);
      var s: array<f32, KEY_TILE>;
      var tileMax = runningMax;
      for (var j = 0u; j < n; j++) {
        var dot = 0.0;
        for (var d = 0u; d < HEAD_DIM; d++) { dot = fma(q[d], keys[j][d], dot); }
        s[j] = dot;
        tileMax = max(tileMax, dot);
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
    let ooff = (base + qi) * D + head * HEAD_DIM;
    let inv = 1.0 / runningSum;
    // vitstream:if INT8_IO
    for (var d = 0u; d < HEAD_DIM; d += 4u) {
      let v = vec4<f32>(acc[d], acc[d + 1u], acc[d + 2u], acc[d + 3u]) * inv;
      out[(ooff + d) / 4u] = quantize4(v, params.outScale);
    }
    // vitstream:else
    for (var d = 0u; d < HEAD_DIM; d++) { out[ooff + d] = T(acc[d] * inv); }
    // vitstream:end
  }
}
