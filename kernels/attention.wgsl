// Fused multi-head attention, portable: softmax(q kᵀ · scale) v without ever writing the
// T x T score matrix. One thread owns one query row; a workgroup of 64 queries of one
// (image, head) walks the keys in tiles of KEY_TILE staged in workgroup memory, with an online
// softmax (running max and sum, rescaled once per tile) as in flash attention.
alias T = f32; // vitstream:element-type
const HEAD_DIM: u32 = 64u; // vitstream:const HEAD_DIM

struct Params {
  count: u32,
  tokens: u32,
  hidden: u32,   // D = heads * HEAD_DIM
  scale: f32,    // HEAD_DIM^-0.5
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> qkv: array<T>;        // [N * T, 3D]: q | k | v, heads contiguous
@group(0) @binding(2) var<storage, read_write> out: array<T>;  // [N * T, D]

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
    for (var d = 0u; d < HEAD_DIM; d++) { q[d] = f32(qkv[qoff + d]) * params.scale; }
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
        kv = f32(qkv[off + D]);
        vv = f32(qkv[off + 2u * D]);
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
    for (var d = 0u; d < HEAD_DIM; d++) { out[ooff + d] = T(acc[d] * inv); }
  }
}
