// Tensor-core GEMM through subgroup matrices (f16 x f16 -> f32), for adapters that have
// `chromium-experimental-subgroup-matrix` with a 16x16x16 f16 config and subgroups of 32.
// C[M,N] = epilogue(A[M,K] · B[K,N] + bias), K and N multiples of 4 (vec4 loads).
//
// A workgroup of SG_M x SG_N subgroups computes a (32 SG_M) x (32 SG_N) tile; each subgroup owns
// a 32x32 block held as 2x2 result fragments. A and B tiles (BK = 32 deep) are staged through
// workgroup memory with padded rows (no bank conflicts). Matrix load/store offsets must be
// subgroup-uniform, hence @builtin(subgroup_id) rather than local_invocation_index / 32.
// The epilogue goes fragment by fragment through a 16x16 scratch per subgroup, which keeps
// workgroup memory under 48 KiB even for 128x128 tiles.
enable f16;
enable subgroups;
enable chromium_experimental_subgroup_matrix;
// vitstream:include epilogue.wgsl

const SG_M: u32 = 2u; // vitstream:const SG_M
const SG_N: u32 = 2u; // vitstream:const SG_N
const BM = 32u * SG_M;
const BN = 32u * SG_N;
const BK = 32u;
const THREADS = 32u * SG_M * SG_N;
const SA = BK + 8u;
const SB = BN + 8u;

struct Params {
  M: u32,
  N: u32,
  K: u32,
  _pad: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<vec4<f16>>;
@group(0) @binding(2) var<storage, read> b: array<vec4<f16>>;
@group(0) @binding(3) var<storage, read> bias: array<f16>;
@group(0) @binding(4) var<storage, read_write> c: array<f16>;

var<workgroup> tileA: array<f16, BM * SA>;
var<workgroup> tileB: array<f16, BK * SB>;
var<workgroup> scratch: array<f32, 256u * SG_M * SG_N>;

fn emit(frag: subgroup_matrix_result<f32, 16, 16>, sg: u32, lane: u32, m0: u32, n0: u32) {
  subgroupMatrixStore<row_major>(&scratch, sg * 256u, frag, 16u);
  workgroupBarrier();
  for (var i = 0u; i < 8u; i++) {
    let e = lane + 32u * i;
    let m = m0 + e / 16u;
    let n = n0 + e % 16u;
    if (m < params.M && n < params.N) {
      let idx = m * params.N + n;
      var previous = 0.0;
      if (EPILOGUE == 3u) { previous = f32(c[idx]); }
      c[idx] = f16(applyEpilogue(scratch[sg * 256u + e], f32(bias[n]), previous));
    }
  }
  workgroupBarrier();
}

@compute @workgroup_size(THREADS)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) tid: u32,
        @builtin(subgroup_id) sg: u32, @builtin(subgroup_invocation_id) lane: u32) {
  let M = params.M;
  let N = params.N;
  let K = params.K;
  let row0 = wid.y * BM;
  let col0 = wid.x * BN;
  let sr = (sg / SG_N) * 32u;
  let sc = (sg % SG_N) * 32u;
  var acc00 = subgroup_matrix_result<f32, 16, 16>();
  var acc01 = subgroup_matrix_result<f32, 16, 16>();
  var acc10 = subgroup_matrix_result<f32, 16, 16>();
  var acc11 = subgroup_matrix_result<f32, 16, 16>();
  let K4 = K / 4u;
  let N4 = N / 4u;
  for (var k0 = 0u; k0 < K; k0 += BK) {
    for (var e = tid; e < BM * BK / 4u; e += THREADS) {
      let m = e / (BK / 4u);
      let k4 = e % (BK / 4u);
      var v = vec4<f16>();
      if (row0 + m < M && k0 + k4 * 4u < K) { v = a[(row0 + m) * K4 + k0 / 4u + k4]; }
      let o = m * SA + k4 * 4u;
      tileA[o] = v.x; tileA[o + 1u] = v.y; tileA[o + 2u] = v.z; tileA[o + 3u] = v.w;
    }
    for (var e = tid; e < BK * BN / 4u; e += THREADS) {
      let k = e / (BN / 4u);
      let n4 = e % (BN / 4u);
      var v = vec4<f16>();
      if (k0 + k < K && col0 + n4 * 4u < N) { v = b[(k0 + k) * N4 + col0 / 4u + n4]; }
      let o = k * SB + n4 * 4u;
      tileB[o] = v.x; tileB[o + 1u] = v.y; tileB[o + 2u] = v.z; tileB[o + 3u] = v.w;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < BK; kk += 16u) {
      let a0 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&tileA, sr * SA + kk, SA);
      let a1 = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&tileA, (sr + 16u) * SA + kk, SA);
      let b0 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, row_major>(&tileB, kk * SB + sc, SB);
      let b1 = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, row_major>(&tileB, kk * SB + sc + 16u, SB);
      acc00 = subgroupMatrixMultiplyAccumulate(a0, b0, acc00);
      acc01 = subgroupMatrixMultiplyAccumulate(a0, b1, acc01);
      acc10 = subgroupMatrixMultiplyAccumulate(a1, b0, acc10);
      acc11 = subgroupMatrixMultiplyAccumulate(a1, b1, acc11);
    }
    workgroupBarrier();
  }
  emit(acc00, sg, lane, row0 + sr, col0 + sc);
  emit(acc01, sg, lane, row0 + sr, col0 + sc + 16u);
  emit(acc10, sg, lane, row0 + sr + 16u, col0 + sc);
  emit(acc11, sg, lane, row0 + sr + 16u, col0 + sc + 16u);
}
