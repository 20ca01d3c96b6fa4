// Tensor-core GEMM through subgroup matrices (f16 x f16 -> f32), for adapters with
// `chromium-experimental-subgroup-matrix` (16x16x16 f16, subgroups of 32).
// C[M,N] = epilogue(A[M,K] · B[K,N] + bias), K and N multiples of 4 (8 with WIDE).
// A workgroup of SG_M x SG_N subgroups computes a (16 FM SG_M) x (16 FN SG_N) tile, each subgroup
// FM x FN fragments of 16x16. A and B tiles, BK deep, pass through STAGES workgroup buffers with
// padded rows while the next tile's global loads wait in registers; the epilogue goes fragment by
// fragment through a 16x16 f32 scratch per subgroup. Split-K (PARTIAL): workgroup z writes its K
// share's raw product to the f32 workspace [splits, M, N] and kernels/gemm_reduce.wgsl finishes.
// Options, off by default: F16_ACC (f16 accumulators), STRIP (epilogue a fragment row at a time),
// PIPELINED (main loop in CUTLASS MmaPipelined order).
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
// 1: f16 accumulators (16x16x16 f16 -> f16): half the accumulator registers, f16 rounding on
// every multiply-accumulate. The epilogue's scratch is then f16 and lives in tileA.
const F16_ACC: u32 = 0u; // vitstream:const F16_ACC
// 1: the epilogue goes a fragment row (a strip of 16 x 16 FN) at a time: each subgroup stores its
// FN fragments, one barrier, lanes write whole rows of C, a barrier: FM rounds instead of FM FN.
const STRIP: u32 = 0u; // vitstream:const STRIP
// 1: CUTLASS MmaPipelined order: the next k-group's fragments load before this one multiplies,
// across the tile boundary too, and the staging of the next tile and its barrier come after the
// last k-group's fragment loads (BK >= 32).
const PIPELINED: u32 = 0u; // vitstream:const PIPELINED
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

// vitstream:if STRIP
// A strip's rows: 16 FN values padded by 16 bytes, so that a fragment's rows start on other banks.
const SW = 16u * FN + 4u + 4u * F16_ACC;
const STRIP_VECS = 4u * SW; // vectors of 4 per subgroup strip (16 rows)
// vitstream:end
// vitstream:if F16_ACC
// tileA is free after the K loop and takes the f16 scratch: a 16x16 fragment or a strip per subgroup.
// vitstream:if STRIP
const SCRATCH_VECS = STRIP_VECS * SG_M * SG_N;
// vitstream:else
const SCRATCH_VECS = 64u * SG_M * SG_N;
// vitstream:end
var<workgroup> tileA: array<vec4<f16>, max(STAGES * A_TILE / 4u, SCRATCH_VECS)>;
var<workgroup> tileB: array<vec4<f16>, STAGES * B_TILE / 4u>;
// vitstream:else
var<workgroup> tileA: array<vec4<f16>, STAGES * A_TILE / 4u>;
var<workgroup> tileB: array<vec4<f16>, STAGES * B_TILE / 4u>;
// vitstream:if STRIP
var<workgroup> scratch: array<vec4<f32>, STRIP_VECS * SG_M * SG_N>;
// vitstream:else
var<workgroup> scratch: array<vec4<f32>, 64u * SG_M * SG_N>;
// vitstream:end
// vitstream:end

// vitstream:if F16_ACC
fn emit(frag: subgroup_matrix_result<f16, 16, 16>, sg: u32, lane: u32, m0: u32, n0: u32) {
  subgroupMatrixStore<row_major>(&tileA, sg * 64u, frag, 4u);
// vitstream:else
fn emit(frag: subgroup_matrix_result<f32, 16, 16>, sg: u32, lane: u32, m0: u32, n0: u32) {
  subgroupMatrixStore<row_major>(&scratch, sg * 64u, frag, 4u);
// vitstream:end
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
        // vitstream:if F16_ACC
        let x = vec4<f32>(tileA[(sg * 256u + e0) / 4u + {h}u]);
        // vitstream:else
        let x = scratch[(sg * 256u + e0) / 4u + {h}u];
        // vitstream:end
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
// vitstream:if F16_ACC
fn emitPartial(frag: subgroup_matrix_result<f16, 16, 16>, sg: u32, lane: u32, m0: u32, n0: u32, z: u32) {
  subgroupMatrixStore<row_major>(&tileA, sg * 64u, frag, 4u);
// vitstream:else
fn emitPartial(frag: subgroup_matrix_result<f32, 16, 16>, sg: u32, lane: u32, m0: u32, n0: u32, z: u32) {
  subgroupMatrixStore<row_major>(&scratch, sg * 64u, frag, 4u);
// vitstream:end
  workgroupBarrier();
  let m = m0 + lane / 2u;
  let e0 = (lane / 2u) * 16u + (lane % 2u) * 8u;
  let nb = n0 + (lane % 2u) * 8u;
  if (m < params.M) {
    // vitstream:unroll h < 2
    {
      let n = nb + {h}u * 4u;
      if (n < params.N) {
        // vitstream:if F16_ACC
        part[((z * params.M + m) * params.N + n) / 4u] = vec4<f32>(tileA[(sg * 256u + e0) / 4u + {h}u]);
        // vitstream:else
        part[((z * params.M + m) * params.N + n) / 4u] = scratch[(sg * 256u + e0) / 4u + {h}u];
        // vitstream:end
      }
    }
    // vitstream:end
  }
  workgroupBarrier();
}

// vitstream:if STRIP
// The subgroup's strip (16 rows x 16 FN columns of C at m0, n0, stored in scratch) to C or to split
// z's plane: a vec4 per lane and step, neighbouring lanes on neighbouring columns of one row.
fn emitStrip(sg: u32, lane: u32, m0: u32, n0: u32, z: u32) {
  // vitstream:unroll t < 2 * FN
  {
    let v = lane + {t}u * 32u;
    let r = v / (4u * FN);
    let c4 = v % (4u * FN);
    let m = m0 + r;
    let n = n0 + c4 * 4u;
    if (m < params.M && n < params.N) {
      // vitstream:if F16_ACC
      let x = vec4<f32>(tileA[sg * STRIP_VECS + r * (SW / 4u) + c4]);
      // vitstream:else
      let x = scratch[sg * STRIP_VECS + r * (SW / 4u) + c4];
      // vitstream:end
      // vitstream:if PARTIAL
      part[((z * params.M + m) * params.N + n) / 4u] = x;
      // vitstream:else
      let q = (m * params.N + n) / 4u;
      let bv = vec4<f32>(bias[n / 4u]);
      var p = vec4<f32>();
      if (EPILOGUE == 3u) { p = vec4<f32>(c[q]); }
      c[q] = vec4<f16>(vec4<f32>(
        applyEpilogue(x.x, bv.x, p.x), applyEpilogue(x.y, bv.y, p.y),
        applyEpilogue(x.z, bv.z, p.z), applyEpilogue(x.w, bv.w, p.w)));
      // vitstream:end
    }
  }
  // vitstream:end
}
// vitstream:end

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
  // vitstream:if F16_ACC
  var acc{i}{j} = subgroup_matrix_result<f16, 16, 16>();
  // vitstream:else
  var acc{i}{j} = subgroup_matrix_result<f32, 16, 16>();
  // vitstream:end
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

  // vitstream:if PIPELINED
  // MmaPipelined order (docs/kernels.md). The first tile is staged before the loop, and its
  // k-group 0 fragments loaded.
  // vitstream:unroll i < A_PER_THREAD
  storeA(tid + {i}u * THREADS, 0u, ra{i});
  // vitstream:end
  // vitstream:unroll i < B_PER_THREAD
  storeB(tid + {i}u * THREADS, 0u, rb{i});
  // vitstream:end
  workgroupBarrier();
  // vitstream:unroll i < FM
  var fa{i} = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&tileA, (sr + 16u * {i}u) * SA / 4u, SA / 4u);
  // vitstream:end
  // vitstream:unroll j < FN
  // vitstream:if B_T
  var fb{j} = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&tileB, (sc + 16u * {j}u) * SA / 4u, SA / 4u);
  // vitstream:else
  var fb{j} = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, row_major>(&tileB, (sc + 16u * {j}u) / 4u, SB / 4u);
  // vitstream:end
  // vitstream:end
  var buf = 0u;
  loop {
    let aBase = buf * A_TILE;
    let bBase = buf * B_TILE;
    // The buffer the next tile is staged in: the other one, or the only one.
    let nBuf = select(buf, 1u - buf, STAGES == 2u);
    let kn = k0 + BK;
    // vitstream:unroll i < FM
    let a0_{i} = fa{i};
    // vitstream:end
    // vitstream:unroll j < FN
    let b0_{j} = fb{j};
    // vitstream:end
    // Unrolled without a block per k-group: k-group s + 1's fragments are named in step s.
    // vitstream:unroll s < BK / 16
    // vitstream:if BK / 16 - 1 - s
    // The fragments of k-group s + 1, before k-group s multiplies.
    // vitstream:unroll i < FM
    let a{=s + 1}_{i} = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&tileA, (aBase + (sr + 16u * {i}u) * SA + {=(s + 1) * 16}u) / 4u, SA / 4u);
    // vitstream:end
    // vitstream:unroll j < FN
    // vitstream:if B_T
    let b{=s + 1}_{j} = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&tileB, (bBase + (sc + 16u * {j}u) * SA + {=(s + 1) * 16}u) / 4u, SA / 4u);
    // vitstream:else
    let b{=s + 1}_{j} = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, row_major>(&tileB, (bBase + {=(s + 1) * 16}u * SB + sc + 16u * {j}u) / 4u, SB / 4u);
    // vitstream:end
    // vitstream:end
    // vitstream:else
    // Last k-group: its fragments are in registers, so the next tile (loaded at k-group 0) is
    // staged now, behind one barrier (two with one buffer, whose readers must finish first),
    // and its k-group 0 fragments load before this k-group multiplies.
    if (kn < kEnd) {
      if (STAGES == 1u) { workgroupBarrier(); }
      let nA = nBuf * A_TILE;
      let nB = nBuf * B_TILE;
      // vitstream:unroll i < A_PER_THREAD
      storeA(tid + {i}u * THREADS, nA, ra{i});
      // vitstream:end
      // vitstream:unroll i < B_PER_THREAD
      storeB(tid + {i}u * THREADS, nB, rb{i});
      // vitstream:end
      workgroupBarrier();
      // vitstream:unroll i < FM
      fa{i} = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&tileA, (nA + (sr + 16u * {i}u) * SA) / 4u, SA / 4u);
      // vitstream:end
      // vitstream:unroll j < FN
      // vitstream:if B_T
      fb{j} = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&tileB, (nB + (sc + 16u * {j}u) * SA) / 4u, SA / 4u);
      // vitstream:else
      fb{j} = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, row_major>(&tileB, (nB + sc + 16u * {j}u) / 4u, SB / 4u);
      // vitstream:end
      // vitstream:end
    }
    // vitstream:end
    // vitstream:if !s
    // k-group 0: the next tile's global loads go out, to be staged after the last k-group.
    if (kn < kEnd) {
      // vitstream:unroll i < A_PER_THREAD
      ra{i} = loadA(tid + {i}u * THREADS, row0, kn, M, kEnd, K4);
      // vitstream:end
      // vitstream:unroll i < B_PER_THREAD
      rb{i} = loadB(tid + {i}u * THREADS, col0, kn, N, kEnd, N4, K4);
      // vitstream:end
    }
    // vitstream:end
    // vitstream:unroll j < FN
    // vitstream:unroll i < FM
    acc{i}{j} = subgroupMatrixMultiplyAccumulate(a{s}_{i}, b{s}_{j}, acc{i}{j});
    // vitstream:end
    // vitstream:end
    // vitstream:end
    k0 = kn;
    if (k0 >= kEnd) { break; }
    buf = nBuf;
  }
  // vitstream:else
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
  // vitstream:end

  // vitstream:if F16_ACC
  // The scratch is tileA, which other subgroups may still be reading fragments from.
  workgroupBarrier();
  // vitstream:end
  // vitstream:if STRIP
  // vitstream:unroll i < FM
  // vitstream:unroll j < FN
  // vitstream:if F16_ACC
  subgroupMatrixStore<row_major>(&tileA, sg * STRIP_VECS + 4u * {j}u, acc{i}{j}, SW / 4u);
  // vitstream:else
  subgroupMatrixStore<row_major>(&scratch, sg * STRIP_VECS + 4u * {j}u, acc{i}{j}, SW / 4u);
  // vitstream:end
  // vitstream:end
  workgroupBarrier();
  emitStrip(sg, lane, row0 + sr + 16u * {i}u, col0 + sc, wid.z);
  workgroupBarrier();
  // vitstream:end
  // vitstream:else
  // vitstream:unroll i < FM
  // vitstream:unroll j < FN
  // vitstream:if PARTIAL
  emitPartial(acc{i}{j}, sg, lane, row0 + sr + 16u * {i}u, col0 + sc + 16u * {j}u, wid.z);
  // vitstream:else
  emit(acc{i}{j}, sg, lane, row0 + sr + 16u * {i}u, col0 + sc + 16u * {j}u);
  // vitstream:end
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
