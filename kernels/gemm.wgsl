// Portable tiled GEMM: C[M,N] = epilogue(A[M,K] · B[K,N] + bias). Works on any adapter.
// A 64x64 output tile per 16x16 workgroup, 4x4 outputs per thread, K staged through
// workgroup memory 16 at a time and accumulated in f32 whatever the storage type.
// Thread (tx, ty) owns rows ty + 16i and columns tx + 16j, so that neighbouring threads touch
// neighbouring columns: coalesced stores and conflict-free workgroup reads.
// Split-K (PARTIAL = 1): workgroup z multiplies only its share of K and writes the raw f32
// product to the workspace [splits, M, N]; kernels/gemm_reduce.wgsl sums the splits and applies
// the epilogue (the same pass as behind the tensor-core kernel, so any adapter tests it).
alias T = f32; // vitstream:element-type
// vitstream:include lib/epilogue.wgsl

// vitstream:params (struct Params, declared in src/engine/kernels/gemm.ts)

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<T>;
@group(0) @binding(2) var<storage, read> b: array<T>;
@group(0) @binding(3) var<storage, read> bias: array<T>;
@group(0) @binding(4) var<storage, read_write> c: array<T>;
@group(0) @binding(5) var<storage, read_write> part: array<f32>;

// A template constant rather than an override so that the unused output binding drops out of
// the layout.
const PARTIAL: u32 = 0u; // vitstream:const PARTIAL

const TILE = 64u;
const TK = 16u;
var<workgroup> tileA: array<array<f32, TILE>, TK>; // [k][m]
var<workgroup> tileB: array<array<f32, TILE>, TK>; // [k][n]

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let M = params.M;
  let N = params.N;
  let K = params.K;
  let row0 = wid.y * TILE;
  let col0 = wid.x * TILE;
  let tid = lid.y * 16u + lid.x;
  var acc: array<array<f32, 4>, 4>;
  // The K range of this workgroup: all of K, or split z's chunk (whole TK steps; may be empty).
  var kBeg = 0u;
  var kEnd = K;
  if (PARTIAL == 1u) {
    let chunk = (K + params.splits * TK - 1u) / (params.splits * TK) * TK;
    kBeg = min(K, wid.z * chunk);
    kEnd = min(K, kBeg + chunk);
  }
  for (var k0 = kBeg; k0 < kEnd; k0 += TK) {
    for (var l = 0u; l < 4u; l++) {
      let e = tid + l * 256u;
      let am = e / TK;
      let ak = e % TK;
      var av = 0.0;
      if (row0 + am < M && k0 + ak < kEnd) { av = f32(a[(row0 + am) * K + k0 + ak]); }
      tileA[ak][am] = av;
      let bk = e / TILE;
      let bn = e % TILE;
      var bv = 0.0;
      if (k0 + bk < kEnd && col0 + bn < N) { bv = f32(b[(k0 + bk) * N + col0 + bn]); }
      tileB[bk][bn] = bv;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TK; kk++) {
      var ar: array<f32, 4>;
      var br: array<f32, 4>;
      for (var i = 0u; i < 4u; i++) {
        ar[i] = tileA[kk][lid.y + 16u * i];
        br[i] = tileB[kk][lid.x + 16u * i];
      }
      for (var i = 0u; i < 4u; i++) {
        for (var j = 0u; j < 4u; j++) { acc[i][j] = fma(ar[i], br[j], acc[i][j]); }
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    let m = row0 + lid.y + 16u * i;
    if (m >= M) { continue; }
    for (var j = 0u; j < 4u; j++) {
      let n = col0 + lid.x + 16u * j;
      if (n >= N) { continue; }
      // vitstream:if PARTIAL
      part[(wid.z * M + m) * N + n] = acc[i][j];
      // vitstream:else
      let idx = m * N + n;
      var previous = 0.0;
      if (EPILOGUE == 3u) { previous = f32(c[idx]); }
      c[idx] = T(applyEpilogue(acc[i][j], f32(bias[n]), previous));
      // vitstream:end
    }
  }
}
