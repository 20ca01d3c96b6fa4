// Tensor-core GEMM through subgroup matrices (f16 x f16 -> f32), for adapters that have
// `chromium-experimental-subgroup-matrix` with a 16x16x16 f16 config and subgroups of 32.
// C[M,N] = epilogue(A[M,K] · B[K,N] + bias), K and N multiples of 4 (vec4 loads).
//
// A workgroup of SG_M x SG_N subgroups computes a (16 FM SG_M) x (16 FN SG_N) tile; each
// subgroup owns FM x FN result fragments of 16x16 (more fragments: more multiply-accumulates per
// fragment load). A and B tiles (BK = 32 deep) are double-buffered in workgroup memory with
// padded rows: while the subgroups multiply out of one buffer, the next tile's global loads are
// in flight in registers and land in the other buffer, so one barrier per K step suffices.
// Matrix load/store offsets must be subgroup-uniform, hence @builtin(subgroup_id) rather than
// local_invocation_index / 32. The epilogue goes fragment by fragment through a 16x16 scratch
// per subgroup.
enable f16;
enable subgroups;
enable chromium_experimental_subgroup_matrix;
// vitstream:include epilogue.wgsl

const SG_M: u32 = 2u; // vitstream:const SG_M
const SG_N: u32 = 2u; // vitstream:const SG_N
const FM: u32 = 2u; // vitstream:const FM
const FN: u32 = 2u; // vitstream:const FN
const BM = 16u * FM * SG_M;
const BN = 16u * FN * SG_N;
const BK = 32u;
const THREADS = 32u * SG_M * SG_N;
const SA = BK + 8u;
const SB = BN + 8u;
const A_TILE = BM * SA;
const B_TILE = BK * SB;
const A_VECS = BM * BK / 4u;
const B_VECS = BK * BN / 4u;
const A_PER_THREAD = (A_VECS + THREADS - 1u) / THREADS;
const B_PER_THREAD = (B_VECS + THREADS - 1u) / THREADS;

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

var<workgroup> tileA: array<f16, 2u * A_TILE>;
var<workgroup> tileB: array<f16, 2u * B_TILE>;
var<workgroup> scratch: array<f32, 256u * SG_M * SG_N>;

fn emit(frag: subgroup_matrix_result<f32, 16, 16>, sg: u32, lane: u32, m0: u32, n0: u32) {
  subgroupMatrixStore<row_major>(&scratch, sg * 256u, frag, 16u);
  workgroupBarrier();
  // Lane -> half a row: 8 consecutive columns, so that neighbouring lanes write neighbouring bytes.
  let m = m0 + lane / 2u;
  let e0 = (lane / 2u) * 16u + (lane % 2u) * 8u;
  let nb = n0 + (lane % 2u) * 8u;
  if (m < params.M) {
    for (var i = 0u; i < 8u; i++) {
      let n = nb + i;
      if (n < params.N) {
        let idx = m * params.N + n;
        var previous = 0.0;
        if (EPILOGUE == 3u) { previous = f32(c[idx]); }
        c[idx] = f16(applyEpilogue(scratch[sg * 256u + e0 + i], f32(bias[n]), previous));
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
  let K4 = K / 4u;
  let N4 = N / 4u;
  let row0 = wid.y * BM;
  let col0 = wid.x * BN;
  let sr = (sg / SG_N) * 16u * FM;
  let sc = (sg % SG_N) * 16u * FN;
  var acc: array<array<subgroup_matrix_result<f32, 16, 16>, FN>, FM>;
  var ra: array<vec4<f16>, A_PER_THREAD>;
  var rb: array<vec4<f16>, B_PER_THREAD>;

  // Global -> registers for the K step at k0 (zeros past the edges).
  var k0 = 0u;
  for (var i = 0u; i < A_PER_THREAD; i++) {
    let e = tid + i * THREADS;
    let m = e / (BK / 4u);
    let k4 = e % (BK / 4u);
    var v = vec4<f16>();
    if (e < A_VECS && row0 + m < M && k0 + k4 * 4u < K) { v = a[(row0 + m) * K4 + k0 / 4u + k4]; }
    ra[i] = v;
  }
  for (var i = 0u; i < B_PER_THREAD; i++) {
    let e = tid + i * THREADS;
    let k = e / (BN / 4u);
    let n4 = e % (BN / 4u);
    var v = vec4<f16>();
    if (e < B_VECS && k0 + k < K && col0 + n4 * 4u < N) { v = b[(k0 + k) * N4 + col0 / 4u + n4]; }
    rb[i] = v;
  }

  var buf = 0u;
  loop {
    // Registers -> workgroup buffer `buf`. Its previous readers finished before the last barrier.
    let aBase = buf * A_TILE;
    let bBase = buf * B_TILE;
    for (var i = 0u; i < A_PER_THREAD; i++) {
      let e = tid + i * THREADS;
      if (e < A_VECS) {
        let o = aBase + (e / (BK / 4u)) * SA + (e % (BK / 4u)) * 4u;
        let v = ra[i];
        tileA[o] = v.x; tileA[o + 1u] = v.y; tileA[o + 2u] = v.z; tileA[o + 3u] = v.w;
      }
    }
    for (var i = 0u; i < B_PER_THREAD; i++) {
      let e = tid + i * THREADS;
      if (e < B_VECS) {
        let o = bBase + (e / (BN / 4u)) * SB + (e % (BN / 4u)) * 4u;
        let v = rb[i];
        tileB[o] = v.x; tileB[o + 1u] = v.y; tileB[o + 2u] = v.z; tileB[o + 3u] = v.w;
      }
    }
    workgroupBarrier();

    // Next tile's global loads go out before this tile's multiplies.
    let kn = k0 + BK;
    if (kn < K) {
      for (var i = 0u; i < A_PER_THREAD; i++) {
        let e = tid + i * THREADS;
        let m = e / (BK / 4u);
        let k4 = e % (BK / 4u);
        var v = vec4<f16>();
        if (e < A_VECS && row0 + m < M && kn + k4 * 4u < K) { v = a[(row0 + m) * K4 + kn / 4u + k4]; }
        ra[i] = v;
      }
      for (var i = 0u; i < B_PER_THREAD; i++) {
        let e = tid + i * THREADS;
        let k = e / (BN / 4u);
        let n4 = e % (BN / 4u);
        var v = vec4<f16>();
        if (e < B_VECS && kn + k < K && col0 + n4 * 4u < N) { v = b[(kn + k) * N4 + col0 / 4u + n4]; }
        rb[i] = v;
      }
    }

    for (var kk = 0u; kk < BK; kk += 16u) {
      var af: array<subgroup_matrix_left<f16, 16, 16>, FM>;
      for (var i = 0u; i < FM; i++) {
        af[i] = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&tileA, aBase + (sr + 16u * i) * SA + kk, SA);
      }
      for (var j = 0u; j < FN; j++) {
        let bf = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, row_major>(&tileB, bBase + kk * SB + sc + 16u * j, SB);
        for (var i = 0u; i < FM; i++) {
          acc[i][j] = subgroupMatrixMultiplyAccumulate(af[i], bf, acc[i][j]);
        }
      }
    }
    k0 = kn;
    if (k0 >= K) { break; }
    buf = 1u - buf;
  }

  for (var i = 0u; i < FM; i++) {
    for (var j = 0u; j < FN; j++) {
      emit(acc[i][j], sg, lane, row0 + sr + 16u * i, col0 + sc + 16u * j);
    }
  }
}
