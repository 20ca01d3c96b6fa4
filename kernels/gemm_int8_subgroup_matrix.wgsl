// Tensor-core INT8 GEMM through subgroup matrices (i8 x i8 -> i32, 16x16x32), for adapters with
// `chromium-experimental-subgroup-matrix` (an i8 config, subgroups of 32).
// C[M,N] = epilogue(dequant(A[M,K] · W[K,N])), K and N multiples of 16. Operands are int8 packed
// 4 per word along K (subgroupMatrixLoad's offsets and strides count words):
//   a: activations [M, K/4], a row-major left matrix
//   b: weights [N, K/4], a row per output channel, read as a column-major right matrix
// Tiles as in gemm_subgroup_matrix.wgsl (BK int8 deep, STAGES buffers). The epilogue takes groups
// of EPI_ROWS fragment rows through SLOTS 16x16 i32 slots per subgroup (in tileA when
// SLOTS_IN_TILE) and keeps global memory out of that barrier loop.
// Options, each off by default: PIPELINED orders the main loop as CUTLASS's MmaPipelined; STRIPS
// takes the epilogue a row of fragments per round through strips in tileA (and tileB); DIRECT_B
// loads B's fragments straight from storage and stages only A.
// Design notes and the variants that lost: docs/kernels.md.
enable f16;
enable subgroups;
enable chromium_experimental_subgroup_matrix;
// vitstream:include lib/epilogue_int8.wgsl

const SG_M: u32 = 2u; // vitstream:const SG_M
const SG_N: u32 = 2u; // vitstream:const SG_N
const FM: u32 = 2u; // vitstream:const FM
const FN: u32 = 2u; // vitstream:const FN
const BM = 16u * FM * SG_M;
const BN = 16u * FN * SG_N;
const BK: u32 = 64u; // vitstream:const BK
// Tile buffers: 2 (one barrier per K step) or 1 (two barriers, half the memory: BK = 128 fits a
// 128x128 tile, and twice the multiplies hide each tile's global-load latency).
const STAGES: u32 = 2u; // vitstream:const STAGES
// Epilogue slots per subgroup (2: one barrier per fragment, 1: two) and whether they live in tileA.
const SLOTS: u32 = 2u; // vitstream:const SLOTS
const SLOTS_IN_TILE: u32 = 1u; // vitstream:const SLOTS_IN_TILE
// Rows of fragments per epilogue group (a divisor of FM): their results wait in registers.
const EPI_ROWS: u32 = 2u; // vitstream:const EPI_ROWS
// Main loop in MmaPipelined order: tile 0 staged before the loop, a k-group's fragments loaded
// while the previous group multiplies, the next tile's stores and barrier only in the last group.
const PIPELINED: u32 = 0u; // vitstream:const PIPELINED
// Epilogue strips of SF fragments a round (0: none, the slots above): 1 region (two barriers a
// round), or 2 that rounds alternate between (one barrier a round). Region 0 is tileA, 1 tileB;
// STRIP_B swaps them (tileB alone holds a round's strips).
const STRIPS: u32 = 0u; // vitstream:const STRIPS
const STRIP_B: u32 = 0u; // vitstream:const STRIP_B
const SF: u32 = 2u; // vitstream:const SF
// B fragments straight from storage (K % BK == 0): no B tile, half the staging.
const DIRECT_B: u32 = 0u; // vitstream:const DIRECT_B
const BKW = BK / 4u;        // words of K per A row in a stage
const SAW = BKW + 4u;       // padded A and B row stride, words
const THREADS = 32u * SG_M * SG_N;
const A_TILE = BM * SAW;
const B_TILE = BN * SAW;
const A_VECS = BM * BKW / 4u;
const B_VECS = BN * BKW / 4u;
const A_PER_THREAD = (A_VECS + THREADS - 1u) / THREADS;
const B_PER_THREAD = (B_VECS + THREADS - 1u) / THREADS;
const_assert FN % 2u == 0u;  // int8 output stores fragments in pairs
// vitstream:if PIPELINED
const_assert BK >= 64u;  // at least two k-groups a tile
// vitstream:end
// vitstream:if STRIPS
const_assert FN % SF == 0u && SF % 2u == 0u;  // int8 output stores units in pairs
// A strip: 16 rows of SF of this subgroup's fragments, int32, padded rows of SSW words.
const SSW = 16u * SF + 4u;
const STRIP = 16u * SSW;
// vitstream:end

// vitstream:params (struct Params, declared in src/engine/kernels/gemm-int8.ts)

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<vec4<i32>>;
@group(0) @binding(2) var<storage, read> b: array<vec4<i32>>;
@group(0) @binding(3) var<storage, read> wScale: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> bias: array<vec4<f32>>;
// Outputs in 16 bytes: 8 f16 per lane and fragment, or 16 int8 per lane and pair of fragments.
@group(0) @binding(5) var<storage, read_write> c: array<vec4<u32>>;
@group(0) @binding(6) var<storage, read_write> cq: array<vec4<u32>>;

var<workgroup> tileA: array<vec4<i32>, STAGES * A_TILE / 4u>;
// vitstream:if !DIRECT_B
var<workgroup> tileB: array<vec4<i32>, STAGES * B_TILE / 4u>;
// vitstream:end

// vitstream:if SLOTS_IN_TILE
fn putFragment(o: u32, frag: subgroup_matrix_result<i32, 16, 16>) { subgroupMatrixStore<row_major>(&tileA, o / 4u, frag, 4u); }
fn getFragment4(o: u32) -> vec4<f32> { return vec4<f32>(tileA[o / 4u]); }
// vitstream:else
var<workgroup> scratch: array<vec4<i32>, SLOTS * 64u * SG_M * SG_N>;
fn putFragment(o: u32, frag: subgroup_matrix_result<i32, 16, 16>) { subgroupMatrixStore<row_major>(&scratch, o / 4u, frag, 4u); }
fn getFragment4(o: u32) -> vec4<f32> { return vec4<f32>(scratch[o / 4u]); }
// vitstream:end

// vitstream:if STRIPS
// Strip regions (round q uses region q % STRIPS): region R in tileB when R + STRIP_B is odd.
// vitstream:unroll R < STRIPS
// vitstream:if (R + STRIP_B) % 2
fn putStrip{R}(o: u32, frag: subgroup_matrix_result<i32, 16, 16>) { subgroupMatrixStore<row_major>(&tileB, o / 4u, frag, SSW / 4u); }
fn getStrip{R}(o: u32) -> vec4<f32> { return vec4<f32>(tileB[o / 4u]); }
// vitstream:else
fn putStrip{R}(o: u32, frag: subgroup_matrix_result<i32, 16, 16>) { subgroupMatrixStore<row_major>(&tileA, o / 4u, frag, SSW / 4u); }
fn getStrip{R}(o: u32) -> vec4<f32> { return vec4<f32>(tileA[o / 4u]); }
// vitstream:end
// vitstream:end
// vitstream:end

fn activate4(x: vec4<f32>) -> vec4<f32> {
  return vec4<f32>(activate(x.x), activate(x.y), activate(x.z), activate(x.w));
}

// Fragment t of this subgroup (counted from 0 in the order main finishes them) through its slot:
// this lane's 8 results (row lane / 2, columns from (lane % 2) * 8), dequantised with the column
// scales ws and biases bs, activated, plus the residual r (8 f16; zeros unless EPILOGUE 3), as 8
// f16 or, with OUT_INT8, 8 int8 in .xy.
fn finish(frag: subgroup_matrix_result<i32, 16, 16>, sg: u32, lane: u32, t: u32, ws0: vec4<f32>,
          ws1: vec4<f32>, bs0: vec4<f32>, bs1: vec4<f32>, r: vec4<u32>) -> vec4<u32> {
  let base = (sg * SLOTS + t % SLOTS) * 256u;
  if (SLOTS == 1u && t != 0u) { workgroupBarrier(); }
  putFragment(base, frag);
  workgroupBarrier();
  let e = base + (lane / 2u) * 16u + (lane % 2u) * 8u;
  let y0 = activate4(getFragment4(e) * ws0 + bs0) + vec4<f32>(bitcast<vec4<f16>>(r.xy));
  let y1 = activate4(getFragment4(e + 4u) * ws1 + bs1) + vec4<f32>(bitcast<vec4<f16>>(r.zw));
  if (OUT_INT8 == 1u) {
    return vec4<u32>(quantize4(y0, params.outInvScale), quantize4(y1, params.outInvScale), 0u, 0u);
  }
  return vec4<u32>(bitcast<vec2<u32>>(vec4<f16>(y0)), bitcast<vec2<u32>>(vec4<f16>(y1)));
}

fn loadA(e: u32, row0: u32, k0: u32, M: u32, K16: u32) -> vec4<i32> {
  let m = e / (BKW / 4u);
  let v = e % (BKW / 4u);
  if (e < A_VECS && row0 + m < M && k0 / 16u + v < K16) { return a[(row0 + m) * K16 + k0 / 16u + v]; }
  return vec4<i32>();
}

// vitstream:if !DIRECT_B
fn loadB(e: u32, col0: u32, k0: u32, N: u32, K16: u32) -> vec4<i32> {
  let n = e / (BKW / 4u);
  let v = e % (BKW / 4u);
  if (e < B_VECS && col0 + n < N && k0 / 16u + v < K16) { return b[(col0 + n) * K16 + k0 / 16u + v]; }
  return vec4<i32>();
}
// vitstream:end

fn storeA(e: u32, base: u32, v: vec4<i32>) {
  if (e < A_VECS) {
    let o = base + (e / (BKW / 4u)) * SAW + (e % (BKW / 4u)) * 4u;
    tileA[o / 4u] = v;
  }
}

// vitstream:if !DIRECT_B
fn storeB(e: u32, base: u32, v: vec4<i32>) {
  if (e < B_VECS) {
    let o = base + (e / (BKW / 4u)) * SAW + (e % (BKW / 4u)) * 4u;
    tileB[o / 4u] = v;
  }
}
// vitstream:end

@compute @workgroup_size(THREADS)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) tid: u32,
        @builtin(subgroup_id) sg: u32, @builtin(subgroup_invocation_id) lane: u32) {
  let M = params.M;
  let N = params.N;
  let K = params.K;
  let K16 = K / 16u;
  let row0 = wid.y * BM;
  let col0 = wid.x * BN;
  let sr = (sg / SG_N) * 16u * FM;
  let sc = (sg % SG_N) * 16u * FN;
  // vitstream:unroll i < FM
  // vitstream:unroll j < FN
  var acc{i}{j} = subgroup_matrix_result<i32, 16, 16>();
  // vitstream:end
  // vitstream:end

  var k0 = 0u;
  // vitstream:unroll i < A_PER_THREAD
  var ra{i} = loadA(tid + {i}u * THREADS, row0, 0u, M, K16);
  // vitstream:end
  // vitstream:if DIRECT_B
  // Columns of this subgroup's B fragments; those wholly past N (N % 16 == 0) read the last 16
  // columns instead, and their results are never stored.
  // vitstream:unroll j < FN
  let nf{j} = min(col0 + sc + 16u * {j}u, N - 16u);
  // vitstream:end
  // vitstream:else
  // vitstream:unroll i < B_PER_THREAD
  var rb{i} = loadB(tid + {i}u * THREADS, col0, 0u, N, K16);
  // vitstream:end
  // vitstream:end

  // vitstream:if PIPELINED
  // vitstream:unroll i < A_PER_THREAD
  storeA(tid + {i}u * THREADS, 0u, ra{i});
  // vitstream:end
  // vitstream:if !DIRECT_B
  // vitstream:unroll i < B_PER_THREAD
  storeB(tid + {i}u * THREADS, 0u, rb{i});
  // vitstream:end
  // vitstream:end
  workgroupBarrier();
  // Fragments of k-group s are fa<s><i>, fb<s><j>; group 0's live across iterations: the last group
  // loads the next tile's.
  // vitstream:unroll i < FM
  var fa0{i} = subgroupMatrixLoad<subgroup_matrix_left<i8, 32, 16>, row_major>(&tileA, ((sr + 16u * {i}u) * SAW) / 4u, SAW / 4u);
  // vitstream:end
  // vitstream:unroll j < FN
  // vitstream:if DIRECT_B
  var fb0{j} = subgroupMatrixLoad<subgroup_matrix_right<i8, 16, 32>, col_major>(&b, nf{j} * K16, K16);
  // vitstream:else
  var fb0{j} = subgroupMatrixLoad<subgroup_matrix_right<i8, 16, 32>, col_major>(&tileB, ((sc + 16u * {j}u) * SAW) / 4u, SAW / 4u);
  // vitstream:end
  // vitstream:end
  var buf = 0u;
  loop {
    let aBase = buf * A_TILE;
    let bBase = buf * B_TILE;
    let kn = k0 + BK;
    let more = kn < K;
    // The next tile's buffer: the other one, or with one buffer this one once every subgroup
    // has loaded its last fragments from it.
    let nb = select(buf, 1u - buf, STAGES == 2u);
    // vitstream:unroll s < BK / 32
    // vitstream:if !s
    if (more) {
      // vitstream:unroll i < A_PER_THREAD
      ra{i} = loadA(tid + {i}u * THREADS, row0, kn, M, K16);
      // vitstream:end
      // vitstream:if !DIRECT_B
      // vitstream:unroll i < B_PER_THREAD
      rb{i} = loadB(tid + {i}u * THREADS, col0, kn, N, K16);
      // vitstream:end
      // vitstream:end
    }
    // vitstream:end
    // vitstream:if BK / 32 - 1 - s
    // vitstream:unroll i < FM
    let fa{=s + 1}{i} = subgroupMatrixLoad<subgroup_matrix_left<i8, 32, 16>, row_major>(&tileA, (aBase + (sr + 16u * {i}u) * SAW + {=s + 1}u * 8u) / 4u, SAW / 4u);
    // vitstream:end
    // vitstream:unroll j < FN
    // vitstream:if DIRECT_B
    let fb{=s + 1}{j} = subgroupMatrixLoad<subgroup_matrix_right<i8, 16, 32>, col_major>(&b, nf{j} * K16 + k0 / 16u + {=s + 1}u * 2u, K16);
    // vitstream:else
    let fb{=s + 1}{j} = subgroupMatrixLoad<subgroup_matrix_right<i8, 16, 32>, col_major>(&tileB, (bBase + (sc + 16u * {j}u) * SAW + {=s + 1}u * 8u) / 4u, SAW / 4u);
    // vitstream:end
    // vitstream:end
    // vitstream:else
    if (more) {
      if (STAGES == 1u) { workgroupBarrier(); }
      // vitstream:unroll i < A_PER_THREAD
      storeA(tid + {i}u * THREADS, nb * A_TILE, ra{i});
      // vitstream:end
      // vitstream:if !DIRECT_B
      // vitstream:unroll i < B_PER_THREAD
      storeB(tid + {i}u * THREADS, nb * B_TILE, rb{i});
      // vitstream:end
      // vitstream:end
      workgroupBarrier();
      // vitstream:unroll i < FM
      fa0{i} = subgroupMatrixLoad<subgroup_matrix_left<i8, 32, 16>, row_major>(&tileA, (nb * A_TILE + (sr + 16u * {i}u) * SAW) / 4u, SAW / 4u);
      // vitstream:end
      // vitstream:unroll j < FN
      // vitstream:if DIRECT_B
      fb0{j} = subgroupMatrixLoad<subgroup_matrix_right<i8, 16, 32>, col_major>(&b, nf{j} * K16 + kn / 16u, K16);
      // vitstream:else
      fb0{j} = subgroupMatrixLoad<subgroup_matrix_right<i8, 16, 32>, col_major>(&tileB, (nb * B_TILE + (sc + 16u * {j}u) * SAW) / 4u, SAW / 4u);
      // vitstream:end
      // vitstream:end
    }
    // vitstream:end
    // vitstream:unroll j < FN
    // vitstream:unroll i < FM
    acc{i}{j} = subgroupMatrixMultiplyAccumulate(fa{s}{i}, fb{s}{j}, acc{i}{j});
    // vitstream:end
    // vitstream:end
    // vitstream:end
    if (!more) { break; }
    k0 = kn;
    buf = nb;
  }
  // vitstream:else
  var buf = 0u;
  loop {
    let aBase = buf * A_TILE;
    let bBase = buf * B_TILE;
    // One buffer: every subgroup must be done multiplying out of it before it is overwritten.
    if (STAGES == 1u && k0 != 0u) { workgroupBarrier(); }
    // vitstream:unroll i < A_PER_THREAD
    storeA(tid + {i}u * THREADS, aBase, ra{i});
    // vitstream:end
    // vitstream:if !DIRECT_B
    // vitstream:unroll i < B_PER_THREAD
    storeB(tid + {i}u * THREADS, bBase, rb{i});
    // vitstream:end
    // vitstream:end
    workgroupBarrier();

    let kn = k0 + BK;
    if (kn < K) {
      // vitstream:unroll i < A_PER_THREAD
      ra{i} = loadA(tid + {i}u * THREADS, row0, kn, M, K16);
      // vitstream:end
      // vitstream:if !DIRECT_B
      // vitstream:unroll i < B_PER_THREAD
      rb{i} = loadB(tid + {i}u * THREADS, col0, kn, N, K16);
      // vitstream:end
      // vitstream:end
    }

    // vitstream:unroll s < BK / 32
    {
      // vitstream:unroll i < FM
      let a{i} = subgroupMatrixLoad<subgroup_matrix_left<i8, 32, 16>, row_major>(&tileA, (aBase + (sr + 16u * {i}u) * SAW + {s}u * 8u) / 4u, SAW / 4u);
      // vitstream:end
      // vitstream:unroll j < FN
      // vitstream:if DIRECT_B
      let b{j} = subgroupMatrixLoad<subgroup_matrix_right<i8, 16, 32>, col_major>(&b, nf{j} * K16 + k0 / 16u + {s}u * 2u, K16);
      // vitstream:else
      let b{j} = subgroupMatrixLoad<subgroup_matrix_right<i8, 16, 32>, col_major>(&tileB, (bBase + (sc + 16u * {j}u) * SAW + {s}u * 8u) / 4u, SAW / 4u);
      // vitstream:end
      // vitstream:unroll i < FM
      acc{i}{j} = subgroupMatrixMultiplyAccumulate(a{i}, b{j}, acc{i}{j});
      // vitstream:end
      // vitstream:end
    }
    // vitstream:end
    k0 = kn;
    if (k0 >= K) { break; }
    if (STAGES == 2u) { buf = 1u - buf; }
  }
  // vitstream:end

  // vitstream:if STRIPS
  // Round (g, h) takes fragments h * SF .. h * SF + SF - 1 of this subgroup's fragment row g
  // through a strip; each lane then finishes SF units of 8 columns of whole strip rows and stores
  // them, neighbouring lanes neighbouring units (int8 output: two units side by side a lane, 16
  // bytes). The strips overlap the tiles the other subgroups may still be multiplying out of.
  workgroupBarrier();
  // vitstream:unroll u < SF
  let d{u} = select(lane + 32u * {u}u, 2u * (lane + 32u * {=u / 2}u) + {=u % 2}u, OUT_INT8 == 1u);
  let ur{u} = d{u} / (2u * SF);
  let uc{u} = (d{u} % (2u * SF)) * 8u;
  // vitstream:end
  // vitstream:unroll h < FN / SF
  // vitstream:unroll u < SF
  let un{h}{u} = col0 + sc + 16u * SF * {h}u + uc{u};
  var uws{h}{u}0 = vec4<f32>();
  var uws{h}{u}1 = vec4<f32>();
  var ubs{h}{u}0 = vec4<f32>();
  var ubs{h}{u}1 = vec4<f32>();
  if (un{h}{u} < N) {
    uws{h}{u}0 = wScale[un{h}{u} / 4u] * params.aScale;
    uws{h}{u}1 = wScale[un{h}{u} / 4u + 1u] * params.aScale;
    ubs{h}{u}0 = bias[un{h}{u} / 4u];
    ubs{h}{u}1 = bias[un{h}{u} / 4u + 1u];
  }
  // vitstream:end
  // vitstream:end
  // vitstream:unroll g < FM
  // vitstream:unroll h < FN / SF
  {
    // vitstream:unroll u < SF
    let m{u} = row0 + sr + 16u * {g}u + ur{u};
    let live{u} = m{u} < M && un{h}{u} < N;
    var r{u} = vec4<u32>();
    if (EPILOGUE == 3u && live{u}) { r{u} = c[(m{u} * N + un{h}{u}) / 8u]; }
    // vitstream:end
    // vitstream:if (2 - STRIPS) * (g * FN / SF + h)
    // One region: every lane of the subgroup must have read the previous round's strip.
    workgroupBarrier();
    // vitstream:end
    // vitstream:unroll j < SF
    putStrip{=(g * FN / SF + h) % STRIPS}(sg * STRIP + 16u * {j}u, acc{g}{=h * SF + j});
    // vitstream:end
    workgroupBarrier();
    // vitstream:unroll u < SF
    let e{u} = sg * STRIP + ur{u} * SSW + uc{u};
    let y{u}0 = activate4(getStrip{=(g * FN / SF + h) % STRIPS}(e{u}) * uws{h}{u}0 + ubs{h}{u}0) + vec4<f32>(bitcast<vec4<f16>>(r{u}.xy));
    let y{u}1 = activate4(getStrip{=(g * FN / SF + h) % STRIPS}(e{u} + 4u) * uws{h}{u}1 + ubs{h}{u}1) + vec4<f32>(bitcast<vec4<f16>>(r{u}.zw));
    // vitstream:end
    if (OUT_INT8 == 1u) {
      let inv = params.outInvScale;
      // vitstream:unroll t < SF / 2
      if (live{=2 * t}) {
        cq[(m{=2 * t} * N + un{h}{=2 * t}) / 16u] = vec4<u32>(quantize4(y{=2 * t}0, inv), quantize4(y{=2 * t}1, inv), quantize4(y{=2 * t + 1}0, inv), quantize4(y{=2 * t + 1}1, inv));
      }
      // vitstream:end
    } else {
      // vitstream:unroll u < SF
      if (live{u}) { c[(m{u} * N + un{h}{u}) / 8u] = vec4<u32>(bitcast<vec2<u32>>(vec4<f16>(y{u}0)), bitcast<vec2<u32>>(vec4<f16>(y{u}1))); }
      // vitstream:end
    }
  }
  // vitstream:end
  // vitstream:end
  // vitstream:else
  // The slots may overlap the tile the other subgroups are still multiplying out of.
  if (SLOTS_IN_TILE == 1u) { workgroupBarrier(); }
  // This lane's part of every fragment: row lane / 2, 8 columns from (lane % 2) * 8 (N % 16 == 0,
  // so the 8 are all in or all out).
  let er = lane / 2u;
  let ec = (lane % 2u) * 8u;
  // vitstream:unroll j < FN
  let n{j} = col0 + sc + 16u * {j}u + ec;
  var ws{j}0 = vec4<f32>();
  var ws{j}1 = vec4<f32>();
  var bs{j}0 = vec4<f32>();
  var bs{j}1 = vec4<f32>();
  if (n{j} < N) {
    ws{j}0 = wScale[n{j} / 4u] * params.aScale;
    ws{j}1 = wScale[n{j} / 4u + 1u] * params.aScale;
    bs{j}0 = bias[n{j} / 4u];
    bs{j}1 = bias[n{j} / 4u + 1u];
  }
  // vitstream:end
  // vitstream:unroll g < FM / EPI_ROWS
  {
    // vitstream:unroll i < EPI_ROWS
    let m{i} = row0 + sr + 16u * {=g * EPI_ROWS + i}u + er;
    // vitstream:unroll j < FN
    let live{i}{j} = m{i} < M && n{j} < N;
    var r{i}{j} = vec4<u32>();
    if (EPILOGUE == 3u && live{i}{j}) { r{i}{j} = c[(m{i} * N + n{j}) / 8u]; }
    // vitstream:end
    // vitstream:end
    // vitstream:unroll i < EPI_ROWS
    // vitstream:unroll j < FN
    let y{i}{j} = finish(acc{=g * EPI_ROWS + i}{j}, sg, lane, {=(g * EPI_ROWS + i) * FN + j}u, ws{j}0, ws{j}1, bs{j}0, bs{j}1, r{i}{j});
    // vitstream:end
    // vitstream:end
    // vitstream:unroll i < EPI_ROWS
    if (OUT_INT8 == 1u) {
      // Fragments 2j and 2j+1 side by side are 32 int8 of a row: the two lanes of a row swap
      // halves so that each stores 16 bytes and together they fill a 32-byte sector (8 bytes
      // per lane, half sectors, made int8 output 7-8% slower than f16 on the H200).
      // vitstream:unroll j < FN / 2
      {
        let odd = (lane & 1u) == 1u;
        let got = subgroupShuffleXor(select(y{i}{=2 * j + 1}.xy, y{i}{=2 * j}.xy, odd), 1u);
        let v = select(vec4<u32>(y{i}{=2 * j}.xy, got), vec4<u32>(got, y{i}{=2 * j + 1}.xy), odd);
        let nb = select(n{=2 * j}, n{=2 * j + 1}, odd) - ec;
        if (m{i} < M && nb < N) { cq[(m{i} * N + nb) / 16u] = v; }
      }
      // vitstream:end
    } else {
      // vitstream:unroll j < FN
      if (live{i}{j}) { c[(m{i} * N + n{j}) / 8u] = y{i}{j}; }
      // vitstream:end
    }
    // vitstream:end
  }
  // vitstream:end
  // vitstream:end
}
