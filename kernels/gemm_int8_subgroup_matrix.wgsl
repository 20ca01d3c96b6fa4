// Tensor-core INT8 GEMM through subgroup matrices (i8 x i8 -> i32, 16x16x32), for adapters with
// `chromium-experimental-subgroup-matrix`, an i8 16x16x32 config and subgroups of 32.
// C[M,N] = epilogue(dequant(A[M,K] · W[K,N])), K and N multiples of 16 (vec4<i32> loads).
// Operands are int8 packed 4 per 32-bit word along K, which is how subgroupMatrixLoad reads i8
// matrices from array<i32> (its offset and stride count WORDS, not int8 elements):
//   a: activations [M, K/4], read as a row-major left matrix
//   b: weights [N, K/4] (a row per output channel, as the portable dot4 kernel reads them too),
//      staged like A and read as a column-major right matrix
// Packed along K, a word holds four consecutive k of one row or column, the operand layout of the
// i8 multiply. Weights as [K, N/4] (words along N) made the right operand's loads regroup bytes:
// on an H100 the same tiles ran 1.5-1.7x slower (ViT-B/16-384 at batch 32, 128x128 tiles with one
// K-128 buffer: fc2 0.403 vs 0.237 ms, qkv 0.352 vs 0.229).
// A workgroup of SG_M x SG_N subgroups computes a (16 FM SG_M) x (16 FN SG_N) tile; each
// subgroup owns FM x FN result fragments. A and B tiles (BK = 64 int8 deep) are double-buffered
// in workgroup memory with rows padded by 4 words: the next tile's global loads are in flight in
// registers while the subgroups multiply, one barrier per K step (as gemm_subgroup_matrix.wgsl).
// Matrix load/store offsets must be subgroup-uniform, hence @builtin(subgroup_id). The epilogue
// stores a row of a subgroup's fragments at a time into the tile memory (WGSL subgroup matrices
// have no element access) and reads it back four columns per lane. On an H100 the epilogue that
// went a fragment at a time through a 16x16 scratch (two barriers each, scales and biases read
// per element) took 22-52 % of these GEMMs (batch 32, 128x128 tile: qkv 0.267-0.276 ms with it,
// 0.162-0.169 without; proj 0.145 vs 0.070; fc2 0.320-0.327 vs 0.256-0.259).
enable f16;
enable subgroups;
enable chromium_experimental_subgroup_matrix;
// vitstream:include epilogue_int8.wgsl

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
// Timing probes only (wrong results): 1 no epilogue; 2 no global loads after the first tile;
// 3 no fragment loads or multiplies.
const PROBE: u32 = 0u; // vitstream:const PROBE
const BKW = BK / 4u;        // words of K per A row in a stage
const SAW = BKW + 4u;       // padded A and B row stride, words
const THREADS = 32u * SG_M * SG_N;
const A_TILE = BM * SAW;
const B_TILE = BN * SAW;
const A_VECS = BM * BKW / 4u;
const B_VECS = BN * BKW / 4u;
const A_PER_THREAD = (A_VECS + THREADS - 1u) / THREADS;
const B_PER_THREAD = (B_VECS + THREADS - 1u) / THREADS;

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
@group(0) @binding(1) var<storage, read> a: array<vec4<i32>>;
@group(0) @binding(2) var<storage, read> b: array<vec4<i32>>;
// N is a multiple of 16: scales and biases read four at a time.
@group(0) @binding(3) var<storage, read> wScale: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> bias: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> c: array<vec4<f16>>;
@group(0) @binding(6) var<storage, read_write> cq: array<u32>;

// One array for the A and B tile buffers and, after the K loop, the epilogue's strips: WGSL has no
// aliasing, and a separate scratch would not fit beside the tiles within 48 KiB.
const A_WORDS = STAGES * A_TILE;
const SS = 16u * FN + 4u;             // strip row stride, words (padded against bank conflicts)
const STRIP = 16u * SS;               // one subgroup's strip: a row of FN result fragments
const GPR = 4u * FN;                  // 4-column groups per strip row
const GROUPS = 16u * GPR / 32u;       // groups per lane per strip
const_assert 32u % GPR == 0u;         // a lane keeps the same columns in every strip
const SMEM = max(A_WORDS + STAGES * B_TILE, STRIP * SG_M * SG_N);
var<workgroup> smem: array<i32, SMEM>;

// The epilogue of one strip (16 rows x 16 FN columns at row m0, this lane's four columns at n):
// dequantise (ws already holds aScale · wScale), bias, activation or residual, store. Each
// residual is read just before its use: reading a strip's residuals up front (more registers
// live beside the accumulators) made the residual GEMMs slower on an H100 (batch 32 fc2 0.328 ms
// against 0.238 for the fragment-at-a-time epilogue), while bias-only ones gained.
fn emitStrip(base: u32, lane: u32, m0: u32, n: u32, ws: vec4<f32>, bs: vec4<f32>) {
  let M = params.M;
  let N = params.N;
  let cg = lane % GPR;
  // vitstream:unroll u < GROUPS
  {
    let r = ({u}u * 32u + lane) / GPR;
    let m = m0 + r;
    if (m < M && n < N) {
      let q = (m * N + n) / 4u;
      var p = vec4<f32>();
      if (EPILOGUE == 3u) { p = vec4<f32>(c[q]); }
      let e = base + r * SS + cg * 4u;
      let acc = vec4<f32>(f32(smem[e]), f32(smem[e + 1u]), f32(smem[e + 2u]), f32(smem[e + 3u]));
      let x = acc * ws + bs;
      let y = vec4<f32>(activate(x.x), activate(x.y), activate(x.z), activate(x.w)) + p;
      if (OUT_INT8 == 1u) {
        cq[q] = quantize4(y, params.outInvScale);
      } else {
        c[q] = vec4<f16>(y);
      }
    }
  }
  // vitstream:end
}

fn loadA(e: u32, row0: u32, k0: u32, M: u32, K16: u32) -> vec4<i32> {
  let m = e / (BKW / 4u);
  let v = e % (BKW / 4u);
  if (e < A_VECS && row0 + m < M && k0 / 16u + v < K16) { return a[(row0 + m) * K16 + k0 / 16u + v]; }
  return vec4<i32>();
}

fn loadB(e: u32, col0: u32, k0: u32, N: u32, K16: u32) -> vec4<i32> {
  let n = e / (BKW / 4u);
  let v = e % (BKW / 4u);
  if (e < B_VECS && col0 + n < N && k0 / 16u + v < K16) { return b[(col0 + n) * K16 + k0 / 16u + v]; }
  return vec4<i32>();
}

fn stage(e: u32, count: u32, base: u32, v: vec4<i32>) {
  if (e < count) {
    let o = base + (e / (BKW / 4u)) * SAW + (e % (BKW / 4u)) * 4u;
    smem[o] = v.x; smem[o + 1u] = v.y; smem[o + 2u] = v.z; smem[o + 3u] = v.w;
  }
}

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
  // vitstream:unroll i < B_PER_THREAD
  var rb{i} = loadB(tid + {i}u * THREADS, col0, 0u, N, K16);
  // vitstream:end

  var buf = 0u;
  loop {
    let aBase = buf * A_TILE;
    let bBase = A_WORDS + buf * B_TILE;
    // One buffer: every subgroup must be done multiplying out of it before it is overwritten.
    if (STAGES == 1u && k0 != 0u) { workgroupBarrier(); }
    // vitstream:unroll i < A_PER_THREAD
    stage(tid + {i}u * THREADS, A_VECS, aBase, ra{i});
    // vitstream:end
    // vitstream:unroll i < B_PER_THREAD
    stage(tid + {i}u * THREADS, B_VECS, bBase, rb{i});
    // vitstream:end
    workgroupBarrier();

    let kn = k0 + BK;
    if (kn < K && PROBE != 2u) {
      // vitstream:unroll i < A_PER_THREAD
      ra{i} = loadA(tid + {i}u * THREADS, row0, kn, M, K16);
      // vitstream:end
      // vitstream:unroll i < B_PER_THREAD
      rb{i} = loadB(tid + {i}u * THREADS, col0, kn, N, K16);
      // vitstream:end
    }

    if (PROBE != 3u) {
    // vitstream:unroll s < BK / 32
    {
      // vitstream:unroll i < FM
      let a{i} = subgroupMatrixLoad<subgroup_matrix_left<i8, 32, 16>, row_major>(&smem, aBase + (sr + 16u * {i}u) * SAW + {s}u * 8u, SAW);
      // vitstream:end
      // vitstream:unroll j < FN
      let b{j} = subgroupMatrixLoad<subgroup_matrix_right<i8, 16, 32>, col_major>(&smem, bBase + (sc + 16u * {j}u) * SAW + {s}u * 8u, SAW);
      // vitstream:unroll i < FM
      acc{i}{j} = subgroupMatrixMultiplyAccumulate(a{i}, b{j}, acc{i}{j});
      // vitstream:end
      // vitstream:end
    }
    // vitstream:end
    }
    k0 = kn;
    if (k0 >= K) { break; }
    if (STAGES == 2u) { buf = 1u - buf; }
  }

  // A probe without epilogue keeps the products alive behind a condition never met.
  if (PROBE == 1u && params._pad0 != 12345u) { return; }
  // A strip (a row of this subgroup's fragments) at a time through the tile memory: two barriers
  // per strip, not per fragment, and the lane's scales and biases loaded once.
  let n = col0 + sc + (lane % GPR) * 4u;
  var ws = vec4<f32>();
  var bs = vec4<f32>();
  if (n < N) {
    ws = wScale[n / 4u] * params.aScale;
    bs = bias[n / 4u];
  }
  let base = sg * STRIP;
  // vitstream:unroll i < FM
  workgroupBarrier();
  // vitstream:unroll j < FN
  subgroupMatrixStore<row_major>(&smem, base + {j}u * 16u, acc{i}{j}, SS);
  // vitstream:end
  workgroupBarrier();
  emitStrip(base, lane, row0 + sr + 16u * {i}u, n, ws, bs);
  // vitstream:end
}
