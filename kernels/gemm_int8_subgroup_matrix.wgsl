// Tensor-core INT8 GEMM through subgroup matrices (i8 x i8 -> i32, 16x16x32), for adapters with
// `chromium-experimental-subgroup-matrix`, an i8 16x16x32 config and subgroups of 32.
// C[M,N] = epilogue(dequant(A[M,K] · W[K,N])), K and N multiples of 4. Operands are int8
// packed 4 per 32-bit word, row-major, which is how subgroupMatrixLoad reads i8 matrices from
// array<i32>; its offset and stride count WORDS, not int8 elements:
//   a: activations [M, K/4] (packed along K)
//   b: weights [K, N/4] (packed along N: the right operand is K x N row-major)
// A workgroup of SG_M x SG_N subgroups computes a (32 SG_M) x (32 SG_N) tile; each subgroup owns
// a 32x32 block as 2x2 result fragments. A and B are staged through workgroup memory, BK = 64
// int8 deep, with rows padded by 4 words against bank conflicts. Matrix load/store offsets must
// be subgroup-uniform, hence @builtin(subgroup_id). The epilogue walks each fragment through a
// 16x16 int32 scratch per subgroup.
enable f16;
enable subgroups;
enable chromium_experimental_subgroup_matrix;
// vitstream:include epilogue_int8.wgsl

const SG_M: u32 = 2u; // vitstream:const SG_M
const SG_N: u32 = 2u; // vitstream:const SG_N
const BM = 32u * SG_M;
const BN = 32u * SG_N;
const BK = 64u;
const BKW = BK / 4u;        // words of K per A row in a stage
const BNW = BN / 4u;        // words of N per B row in a stage
const SAW = BKW + 4u;       // padded A row stride, words
const SBW = BNW + 4u;       // padded B row stride, words
const THREADS = 32u * SG_M * SG_N;

struct Params {
  M: u32,
  N: u32,
  K: u32,
  _pad0: u32,
  aScale: f32,
  outInvScale: f32,
  _pad1: f32,
  _pad2: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<i32>;
@group(0) @binding(2) var<storage, read> b: array<i32>;
@group(0) @binding(3) var<storage, read> wScale: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read_write> c: array<f16>;
@group(0) @binding(6) var<storage, read_write> cq: array<u32>;

var<workgroup> tileA: array<i32, BM * SAW>;
var<workgroup> tileB: array<i32, BK * SBW>;
var<workgroup> scratch: array<i32, 256u * SG_M * SG_N>;

fn dequant(acc: i32, m: u32, n: u32) -> f32 {
  var x = activate(f32(acc) * params.aScale * wScale[n] + bias[n]);
  if (EPILOGUE == 3u) { x += f32(c[m * params.N + n]); }
  return x;
}

fn emit(frag: subgroup_matrix_result<i32, 16, 16>, sg: u32, lane: u32, m0: u32, n0: u32) {
  subgroupMatrixStore<row_major>(&scratch, sg * 256u, frag, 16u);
  workgroupBarrier();
  let base = sg * 256u;
  if (OUT_INT8 == 1u) {
    // 64 output words per fragment (16 rows x 4 words), two per lane.
    for (var w = 0u; w < 2u; w++) {
      let wi = lane * 2u + w;
      let r = wi / 4u;
      let nb = n0 + (wi % 4u) * 4u;
      let m = m0 + r;
      if (m < params.M && nb < params.N) {
        let e = base + r * 16u + (wi % 4u) * 4u;
        let v = vec4<f32>(dequant(scratch[e], m, nb), dequant(scratch[e + 1u], m, nb + 1u),
                          dequant(scratch[e + 2u], m, nb + 2u), dequant(scratch[e + 3u], m, nb + 3u));
        cq[m * (params.N / 4u) + nb / 4u] = quantize4(v, params.outInvScale);
      }
    }
  } else {
    for (var i = 0u; i < 8u; i++) {
      let e = lane + 32u * i;
      let m = m0 + e / 16u;
      let n = n0 + e % 16u;
      if (m < params.M && n < params.N) {
        c[m * params.N + n] = f16(dequant(scratch[base + e], m, n));
      }
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
  let KW = K / 4u;
  let NW = N / 4u;
  let row0 = wid.y * BM;
  let col0 = wid.x * BN;
  let colW0 = col0 / 4u;
  let sr = (sg / SG_N) * 32u;
  let sc = (sg % SG_N) * 32u;
  var acc00 = subgroup_matrix_result<i32, 16, 16>();
  var acc01 = subgroup_matrix_result<i32, 16, 16>();
  var acc10 = subgroup_matrix_result<i32, 16, 16>();
  var acc11 = subgroup_matrix_result<i32, 16, 16>();
  for (var k0 = 0u; k0 < K; k0 += BK) {
    let k0w = k0 / 4u;
    for (var e = tid; e < BM * BKW; e += THREADS) {
      let m = e / BKW;
      let kw = e % BKW;
      var v = 0i;
      if (row0 + m < M && k0w + kw < KW) { v = a[(row0 + m) * KW + k0w + kw]; }
      tileA[m * SAW + kw] = v;
    }
    for (var e = tid; e < BK * BNW; e += THREADS) {
      let k = e / BNW;
      let nw = e % BNW;
      var v = 0i;
      if (k0 + k < K && colW0 + nw < NW) { v = b[(k0 + k) * NW + colW0 + nw]; }
      tileB[k * SBW + nw] = v;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < BK; kk += 32u) {
      let kkw = kk / 4u;
      let a0 = subgroupMatrixLoad<subgroup_matrix_left<i8, 32, 16>, row_major>(&tileA, sr * SAW + kkw, SAW);
      let a1 = subgroupMatrixLoad<subgroup_matrix_left<i8, 32, 16>, row_major>(&tileA, (sr + 16u) * SAW + kkw, SAW);
      let b0 = subgroupMatrixLoad<subgroup_matrix_right<i8, 16, 32>, row_major>(&tileB, kk * SBW + sc / 4u, SBW);
      let b1 = subgroupMatrixLoad<subgroup_matrix_right<i8, 16, 32>, row_major>(&tileB, kk * SBW + (sc + 16u) / 4u, SBW);
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
