// Tensor-core GEMM through subgroup matrices (f16 x f16 -> f32), for adapters with
// `chromium-experimental-subgroup-matrix` (16x16x16 f16, subgroups of 32).
// C[M,N] = epilogue(A[M,K] · B[K,N] + bias), K and N multiples of 4 (8 with WIDE).
// A workgroup of SG_M x SG_N subgroups computes a (16 FM SG_M) x (16 FN SG_N) tile, each subgroup
// FM x FN fragments of 16x16. A and B tiles, BK deep, pass through STAGES workgroup buffers with
// padded rows while the next tile's global loads wait in registers; the epilogue goes fragment by
// fragment through a 16x16 f32 scratch per subgroup. Split-K (PARTIAL): workgroup z writes its K
// share's raw product to the f32 workspace [splits, M, N] and kernels/gemm_reduce.wgsl finishes.
// Design notes and the variants that lost: docs/kernels.md.
enable f16;
enable subgroups;
enable chromium_experimental_subgroup_matrix;
// vitstream:include lib/epilogue.wgsl

const SG_M: u32 = 2u; // vitstream:const SG_M
const SG_N: u32 = 2u; // vitstream:const SG_N
const FM: u32 = 2u; // vitstream:const FM
const FN: u32 = 2u; // vitstream:const FN
const BM = 16u * FM * SG_M;
const BN = 16u * FN * SG_N;
const BK: u32 = 32u; // vitstream:const BK
// 0: one pass with the epilogue; 1: split-K partial products (see top). A template constant
// rather than an override so that the unused output binding drops out of the layout.
const PARTIAL: u32 = 0u; // vitstream:const PARTIAL
// 1: global loads of 16 bytes (8 halves; K and N multiples of 8) rather than 8.
const WIDE: u32 = 0u; // vitstream:const WIDE
// 1: B is stored transposed, [N, K] (weights laid out so at upload): its tile is staged like A's,
// k contiguous, and read as a column-major right matrix.
const B_T: u32 = 0u; // vitstream:const B_T
// Workgroup tile buffers: 2 (one barrier per K step; the next tile lands in the other buffer) or
// 1 (two barriers per step, but half the memory, so BK = 64 fits a 128x128 tile: twice the
// multiplies between issuing a tile's global loads and storing it, which hides their latency).
const STAGES: u32 = 2u; // vitstream:const STAGES
const VW = 4u + 4u * WIDE; // halves per global vector
const THREADS = 32u * SG_M * SG_N;
const SA = BK + 8u;
const SB = BN + 8u;
const A_TILE = BM * SA;
const B_TILE = select(BK * SB, BN * SA, B_T == 1u);
const A_VECS = BM * BK / VW;
const B_VECS = BK * BN / VW;
const A_PER_THREAD = (A_VECS + THREADS - 1u) / THREADS;
const B_PER_THREAD = (B_VECS + THREADS - 1u) / THREADS;

// vitstream:params (struct Params, declared in src/engine/kernels/gemm.ts)

@group(0) @binding(0) var<uniform> params: Params;
// vitstream:if WIDE
alias GV = vec4<u32>;
fn putA(o: u32, v: GV) { tileA[o / 4u] = bitcast<vec4<f16>>(v.xy); tileA[o / 4u + 1u] = bitcast<vec4<f16>>(v.zw); }
fn putB(o: u32, v: GV) { tileB[o / 4u] = bitcast<vec4<f16>>(v.xy); tileB[o / 4u + 1u] = bitcast<vec4<f16>>(v.zw); }
// vitstream:else
alias GV = vec4<f16>;
fn putA(o: u32, v: GV) { tileA[o / 4u] = v; }
fn putB(o: u32, v: GV) { tileB[o / 4u] = v; }
// vitstream:end
@group(0) @binding(1) var<storage, read> a: array<GV>;
@group(0) @binding(2) var<storage, read> b: array<GV>;
@group(0) @binding(3) var<storage, read> bias: array<vec4<f16>>;
@group(0) @binding(4) var<storage, read_write> c: array<vec4<f16>>;
@group(0) @binding(5) var<storage, read_write> part: array<vec4<f32>>;

var<workgroup> tileA: array<vec4<f16>, STAGES * A_TILE / 4u>;
var<workgroup> tileB: array<vec4<f16>, STAGES * B_TILE / 4u>;
var<workgroup> scratch: array<vec4<f32>, 64u * SG_M * SG_N>;

fn emit(frag: subgroup_matrix_result<f32, 16, 16>, sg: u32, lane: u32, m0: u32, n0: u32) {
  subgroupMatrixStore<row_major>(&scratch, sg * 64u, frag, 4u);
  workgroupBarrier();
  // Lane -> half a row: 8 consecutive columns, so that neighbouring lanes write neighbouring bytes.
  let m = m0 + lane / 2u;
  let e0 = (lane / 2u) * 16u + (lane % 2u) * 8u;
  let nb = n0 + (lane % 2u) * 8u;
  if (m < params.M) {
    // vitstream:unroll h < 2
    {
      let n = nb + {h}u * 4u;
      if (n < params.N) {
        let q = (m * params.N + n) / 4u;
        let bv = vec4<f32>(bias[n / 4u]);
        var p = vec4<f32>();
        if (EPILOGUE == 3u) { p = vec4<f32>(c[q]); }
        let x = scratch[(sg * 256u + e0) / 4u + {h}u];
        c[q] = vec4<f16>(vec4<f32>(
          applyEpilogue(x.x, bv.x, p.x), applyEpilogue(x.y, bv.y, p.y),
          applyEpilogue(x.z, bv.z, p.z), applyEpilogue(x.w, bv.w, p.w)));
      }
    }
    // vitstream:end
  }
  workgroupBarrier();
}

// Split-K pass 1: the fragment, without bias or epilogue, into split z's [M, N] plane.
fn emitPartial(frag: subgroup_matrix_result<f32, 16, 16>, sg: u32, lane: u32, m0: u32, n0: u32, z: u32) {
  subgroupMatrixStore<row_major>(&scratch, sg * 64u, frag, 4u);
  workgroupBarrier();
  let m = m0 + lane / 2u;
  let e0 = (lane / 2u) * 16u + (lane % 2u) * 8u;
  let nb = n0 + (lane % 2u) * 8u;
  if (m < params.M) {
    // vitstream:unroll h < 2
    {
      let n = nb + {h}u * 4u;
      if (n < params.N) {
        part[((z * params.M + m) * params.N + n) / 4u] = scratch[(sg * 256u + e0) / 4u + {h}u];
      }
    }
    // vitstream:end
  }
  workgroupBarrier();
}

// Loops over fragments and per-thread loads are unrolled (vitstream:unroll) so that fragments
// and prefetched vectors are named registers rather than arrays the compiler might spill.
@compute @workgroup_size(THREADS)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) tid: u32,
        @builtin(subgroup_id) sg: u32, @builtin(subgroup_invocation_id) lane: u32) {
  let M = params.M;
  let N = params.N;
  let K = params.K;
  let K4 = K / VW;
  let N4 = N / VW;
  let row0 = wid.y * BM;
  let col0 = wid.x * BN;
  let sr = (sg / SG_N) * 16u * FM;
  let sc = (sg % SG_N) * 16u * FN;
  // vitstream:unroll i < FM
  // vitstream:unroll j < FN
  var acc{i}{j} = subgroup_matrix_result<f32, 16, 16>();
  // vitstream:end
  // vitstream:end

  // The K range [kBeg, kEnd) of this workgroup: all of K, or split z's chunk (a whole number of
  // BK steps; a split past K multiplies zeros and writes zeros).
  var kBeg = 0u;
  var kEnd = K;
  if (PARTIAL == 1u) {
    let chunk = (K + params.splits * BK - 1u) / (params.splits * BK) * BK;
    kBeg = wid.z * chunk;
    kEnd = min(K, kBeg + chunk);
  }

  // Global -> registers for the K step at k0 (zeros past the edges).
  var k0 = kBeg;
  // vitstream:unroll i < A_PER_THREAD
  var ra{i}: GV = loadA(tid + {i}u * THREADS, row0, k0, M, kEnd, K4);
  // vitstream:end
  // vitstream:unroll i < B_PER_THREAD
  var rb{i}: GV = loadB(tid + {i}u * THREADS, col0, k0, N, kEnd, N4, K4);
  // vitstream:end

  var buf = 0u;
  loop {
    // Registers -> workgroup buffer `buf`. Its previous readers finished before the last barrier.
    let aBase = buf * A_TILE;
    let bBase = buf * B_TILE;
    // One buffer: every subgroup must be done multiplying out of it before it is overwritten.
    if (STAGES == 1u && k0 != kBeg) { workgroupBarrier(); }
    // vitstream:unroll i < A_PER_THREAD
    storeA(tid + {i}u * THREADS, aBase, ra{i});
    // vitstream:end
    // vitstream:unroll i < B_PER_THREAD
    storeB(tid + {i}u * THREADS, bBase, rb{i});
    // vitstream:end
    workgroupBarrier();

    // Next tile's global loads go out before this tile's multiplies.
    let kn = k0 + BK;
    if (kn < kEnd) {
      // vitstream:unroll i < A_PER_THREAD
      ra{i} = loadA(tid + {i}u * THREADS, row0, kn, M, kEnd, K4);
      // vitstream:end
      // vitstream:unroll i < B_PER_THREAD
      rb{i} = loadB(tid + {i}u * THREADS, col0, kn, N, kEnd, N4, K4);
      // vitstream:end
    }

    // vitstream:unroll s < BK / 16
    {
      let kk = {s}u * 16u;
      // vitstream:unroll i < FM
      let a{i} = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&tileA, (aBase + (sr + 16u * {i}u) * SA + kk) / 4u, SA / 4u);
      // vitstream:end
      // vitstream:unroll j < FN
      // vitstream:if B_T
      let b{j} = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&tileB, (bBase + (sc + 16u * {j}u) * SA + kk) / 4u, SA / 4u);
      // vitstream:else
      let b{j} = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, row_major>(&tileB, (bBase + kk * SB + sc + 16u * {j}u) / 4u, SB / 4u);
      // vitstream:end
      // vitstream:unroll i < FM
      acc{i}{j} = subgroupMatrixMultiplyAccumulate(a{i}, b{j}, acc{i}{j});
      // vitstream:end
      // vitstream:end
    }
    // vitstream:end
    k0 = kn;
    if (k0 >= kEnd) { break; }
    if (STAGES == 2u) { buf = 1u - buf; }
  }

  // vitstream:unroll i < FM
  // vitstream:unroll j < FN
  // vitstream:if PARTIAL
  emitPartial(acc{i}{j}, sg, lane, row0 + sr + 16u * {i}u, col0 + sc + 16u * {j}u, wid.z);
  // vitstream:else
  emit(acc{i}{j}, sg, lane, row0 + sr + 16u * {i}u, col0 + sc + 16u * {j}u);
  // vitstream:end
  // vitstream:end
  // vitstream:end
}

// kEnd bounds the K range (K, or a split's end); K4 is the row stride of A in vectors (and of
// B when transposed), N4 of B otherwise.
fn loadA(e: u32, row0: u32, k0: u32, M: u32, kEnd: u32, K4: u32) -> GV {
  let m = e / (BK / VW);
  let kv = e % (BK / VW);
  if (e < A_VECS && row0 + m < M && k0 + kv * VW < kEnd) { return a[(row0 + m) * K4 + k0 / VW + kv]; }
  return GV();
}

fn loadB(e: u32, col0: u32, k0: u32, N: u32, kEnd: u32, N4: u32, K4: u32) -> GV {
  if (B_T == 1u) {
    let n = e / (BK / VW);
    let kv = e % (BK / VW);
    if (e < B_VECS && col0 + n < N && k0 + kv * VW < kEnd) { return b[(col0 + n) * K4 + k0 / VW + kv]; }
    return GV();
  }
  let k = e / (BN / VW);
  let nv = e % (BN / VW);
  if (e < B_VECS && k0 + k < kEnd && col0 + nv * VW < N) { return b[(k0 + k) * N4 + col0 / VW + nv]; }
  return GV();
}

fn storeA(e: u32, base: u32, v: GV) {
  if (e < A_VECS) { putA(base + (e / (BK / VW)) * SA + (e % (BK / VW)) * VW, v); }
}

fn storeB(e: u32, base: u32, v: GV) {
  if (e < B_VECS) {
    if (B_T == 1u) {
      putB(base + (e / (BK / VW)) * SA + (e % (BK / VW)) * VW, v);
    } else {
      putB(base + (e / (BN / VW)) * SB + (e % (BN / VW)) * VW, v);
    }
  }
}
