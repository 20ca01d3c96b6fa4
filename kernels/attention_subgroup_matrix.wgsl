// Fused multi-head attention on tensor cores (flash-attention style), for adapters with f16
// 16x16x16 subgroup matrices and 32-wide subgroups. softmax(q kᵀ · scale) v, f16 storage,
// f32 scores and accumulation; the T x T score matrix never leaves workgroup memory.
//
// A workgroup of QSG = 4 subgroups owns BQ = 64 queries of one (image, head); each subgroup owns
// 16 query rows, whose Q fragments stay in registers. Keys and values are walked in tiles of
// BKV = 64, staged in workgroup memory (rows past T zeroed, their scores masked), so T need not be
// a multiple of 16; the next tile's global loads are in flight in registers while one is
// multiplied. Per key tile and subgroup:
//   S = Q Kᵀ           subgroup matrices, stored as f32 to the subgroup's scratch rows
//   softmax            two lanes per query row, each reading a contiguous half of the row as
//                      vec4s; exponentials in base 2 against the row's running max m, P written
//                      as vec4<f16>
//   O += P V           into accumulators that stay in registers across all key tiles
// WGSL subgroup matrices have no element access, so O cannot be rescaled in registers when the
// max grows. The rescale is lazy instead: m moves only when a tile's max exceeds it by more than
// THRESH (P then stays <= 2^THRESH, exact enough in f16 and far from its range); only then is O
// stored, scaled row by row and loaded back, in a branch that every subgroup takes together
// (decided through workgroupUniformLoad, as workgroup barriers need uniform control flow). Its
// cost is paid only when some row's max grows by more than 2^THRESH past the first tile; the
// attention test with keys growing along the sequence makes that happen several times per row.
// Key fragments wholly past T (the last tile of T = 577 holds one key in four fragments) are
// skipped in both products, in a branch uniform across the workgroup: their scores are masked
// anyway, and their P and V rows are zero.
// Matrix offsets derive from @builtin(subgroup_id) so that they are subgroup-uniform. Loops over
// fragments and lane columns are unrolled (vitstream:unroll): fragments and per-lane values are
// named registers, never arrays a compiler might spill to local memory.
// On an H100 the same kernel with 1 or 2 subgroups per workgroup (32 or 64 invocations) gave
// wrong results for every query (cause not found; every tensor-core kernel here uses >= 128
// invocations), hence QSG stays 4.
enable f16;
enable subgroups;
enable chromium_experimental_subgroup_matrix;

const HEAD_DIM: u32 = 64u; // vitstream:const HEAD_DIM
// Timing probes only (wrong results): 1 no softmax (P left as it is), 2 no S = Q Kᵀ, 3 no P V,
// 4 no global loads after the first key tile.
const PROBE: u32 = 0u; // vitstream:const PROBE
const QSG = 4u;
const ROWS = 16u;                     // query rows per subgroup
const BQ = ROWS * QSG;
const BKV = 64u;
const THREADS = 32u * QSG;
const HF = HEAD_DIM / 16u;            // fragments along the head dimension
const KF = BKV / 16u;                 // fragments along a key tile
const DV = HEAD_DIM / 8u;             // 16-byte vectors (8 halves) per head row
const SKV = HEAD_DIM + 8u;            // K/V tile row stride (f16), padded against bank conflicts
const SP = BKV + 8u;                  // P row stride (f16)
const SW = BKV + 4u;                  // score / output scratch row stride (f32)
const LPR = 2u;                       // lanes per query row
const SV = BKV / LPR / 4u;            // score vec4s per lane
const OV = HEAD_DIM / LPR / 4u;       // output vec4s per lane
const LOG2E = 1.4426950408889634;
const NEG = -1.0e30;                  // not -inf: -inf - -inf would be NaN
const THRESH = 8.0;                   // lazy rescale: log2 of the largest P
const_assert BQ <= BKV;               // Q is staged through the K tile
const_assert HEAD_DIM <= BKV;         // O fits the scratch rows
const_assert HEAD_DIM % 16u == 0u;
const KV_PER_THREAD = BKV * DV / THREADS;  // 16-byte vectors of K (and of V) each thread stages per tile
const_assert (BKV * DV) % THREADS == 0u;

struct Params {
  count: u32,
  tokens: u32,
  hidden: u32,   // D = heads * HEAD_DIM
  scale: f32,    // HEAD_DIM^-0.5
}

@group(0) @binding(0) var<uniform> params: Params;
// Read 16 bytes at a time (8 halves as vec4<u32>): half the load instructions of vec4<f16>.
@group(0) @binding(1) var<storage, read> qkv: array<vec4<u32>>;        // [N * T, 3D] f16: q | k | v
@group(0) @binding(2) var<storage, read_write> out: array<vec4<f16>>;  // [N * T, D]

// Tiles of f16 as vec4s: one store per staged vector (as in the GEMM); matrix loads through the
// vector-array overload count offsets and strides in vectors.
var<workgroup> kTile: array<vec4<f16>, BKV * SKV / 4u>;
var<workgroup> vTile: array<vec4<f16>, BKV * SKV / 4u>;
var<workgroup> pTile: array<vec4<f16>, BQ * SP / 4u>;
var<workgroup> sTile: array<f32, BQ * SW>;
var<workgroup> grown: array<u32, QSG>;

@compute @workgroup_size(THREADS)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) tid: u32,
        @builtin(subgroup_id) sg: u32, @builtin(subgroup_invocation_id) lane: u32) {
  let Tn = params.tokens;
  let D8 = params.hidden / 8u;
  let row8 = 3u * D8;
  let h8 = wid.y * DV;
  let base = wid.z * Tn;
  let q0 = wid.x * BQ;
  let scale = params.scale * LOG2E;

  // Q through the K tile into registers, once.
  for (var e = tid; e < BQ * DV; e += THREADS) {
    let r = e / DV;
    let c = e % DV;
    var v = vec4<u32>();
    if (q0 + r < Tn) { v = qkv[(base + q0 + r) * row8 + h8 + c]; }
    put(&kTile, (r * SKV + c * 8u) / 4u, v);
  }
  workgroupBarrier();
  // vitstream:unroll d < HF
  let qf{d} = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&kTile, (sg * ROWS * SKV + {d}u * 16u) / 4u, SKV / 4u);
  var o{d} = subgroup_matrix_result<f32, 16, 16>();
  // vitstream:end
  workgroupBarrier();

  // This lane's query row within the subgroup and its half (part) of the row's columns.
  let r = lane % ROWS;
  let part = lane / ROWS;
  let sRow = (sg * ROWS + r) * SW;
  let pRow = (sg * ROWS + r) * SP;
  let c0 = part * (BKV / LPR);
  let oc = part * (HEAD_DIM / LPR);
  var m = NEG;
  var l = 0.0;

  // vitstream:unroll i < KV_PER_THREAD
  var kr{i} = loadKey(tid + {i}u * THREADS, base, 0u, Tn, row8, h8 + D8);
  var vr{i} = loadKey(tid + {i}u * THREADS, base, 0u, Tn, row8, h8 + 2u * D8);
  // vitstream:end
  for (var k0 = 0u; k0 < Tn; k0 += BKV) {
    // vitstream:unroll i < KV_PER_THREAD
    {
      let e = tid + {i}u * THREADS;
      let t = ((e / DV) * SKV + (e % DV) * 8u) / 4u;
      put(&kTile, t, kr{i});
      put(&vTile, t, vr{i});
    }
    // vitstream:end
    workgroupBarrier();
    if (k0 + BKV < Tn && PROBE != 4u) {
      // vitstream:unroll i < KV_PER_THREAD
      kr{i} = loadKey(tid + {i}u * THREADS, base, k0 + BKV, Tn, row8, h8 + D8);
      vr{i} = loadKey(tid + {i}u * THREADS, base, k0 + BKV, Tn, row8, h8 + 2u * D8);
      // vitstream:end
    }

    // S = Q Kᵀ: Kᵀ is the K tile read column-major.
    if (PROBE != 2u) {
    // vitstream:unroll j < KF
    if (k0 + {j}u * 16u < Tn) {
      var s = subgroup_matrix_result<f32, 16, 16>();
      // vitstream:unroll d < HF
      s = subgroupMatrixMultiplyAccumulate(qf{d},
        subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&kTile, ({j}u * 16u * SKV + {d}u * 16u) / 4u, SKV / 4u), s);
      // vitstream:end
      subgroupMatrixStore<row_major>(&sTile, sg * ROWS * SW + {j}u * 16u, s, SW);
    }
    // vitstream:end
    }
    workgroupBarrier();

    // Softmax over this tile against the lazily moved max m, in base 2.
    let valid = min(BKV, Tn - k0);
    var tileMax = NEG;
    // vitstream:unroll v < SV
    var x{v} = vec4<f32>();
    if (PROBE != 1u) { x{v} = scoreQuad(sRow + c0 + {v}u * 4u, c0 + {v}u * 4u, valid, scale); }
    tileMax = max(tileMax, max(max(x{v}.x, x{v}.y), max(x{v}.z, x{v}.w)));
    // vitstream:end
    tileMax = max(tileMax, subgroupShuffleXor(tileMax, 16u));
    let grow = k0 != 0u && tileMax > m + THRESH;
    var mNew = m;
    if (k0 == 0u || grow) { mNew = tileMax; }
    var psum = 0.0;
    // vitstream:unroll v < SV
    {
      let p = exp2(x{v} - vec4<f32>(mNew));
      psum += (p.x + p.y) + (p.z + p.w);
      if (PROBE != 1u) { pTile[(pRow + c0 + {v}u * 4u) / 4u] = vec4<f16>(p); }
    }
    // vitstream:end
    psum += subgroupShuffleXor(psum, 16u);
    let alpha = exp2(m - mNew);
    l = l * alpha + psum;
    m = mNew;
    let sgGrew = subgroupAny(grow);
    if (lane == 0u) { grown[sg] = select(0u, 1u, sgGrew); }
    // Also the barrier between writing P and reading it as fragments.
    let flags = workgroupUniformLoad(&grown);
    var anyGrew = 0u;
    // vitstream:unroll g < QSG
    anyGrew |= flags[{g}u];
    // vitstream:end
    if (anyGrew != 0u) {
      // O through this subgroup's scratch rows (their scores were read above): row * alpha.
      // vitstream:unroll d < HF
      subgroupMatrixStore<row_major>(&sTile, sg * ROWS * SW + {d}u * 16u, o{d}, SW);
      // vitstream:end
      workgroupBarrier();
      for (var c = oc; c < oc + HEAD_DIM / LPR; c++) {
        sTile[sRow + c] *= alpha;
      }
      workgroupBarrier();
      // vitstream:unroll d < HF
      o{d} = subgroupMatrixLoad<subgroup_matrix_result<f32, 16, 16>, row_major>(&sTile, sg * ROWS * SW + {d}u * 16u, SW);
      // vitstream:end
    }

    // O += P V.
    if (PROBE != 3u) {
    // vitstream:unroll j < KF
    if (k0 + {j}u * 16u < Tn) {
      let pf = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&pTile, (sg * ROWS * SP + {j}u * 16u) / 4u, SP / 4u);
      // vitstream:unroll d < HF
      o{d} = subgroupMatrixMultiplyAccumulate(pf,
        subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, row_major>(&vTile, ({j}u * 16u * SKV + {d}u * 16u) / 4u, SKV / 4u), o{d});
      // vitstream:end
    }
    // vitstream:end
    }
    // Every subgroup is done with the K and V tiles before they are overwritten.
    workgroupBarrier();
  }

  // O / l through the scratch rows, a lane's half of its row as vec4<f16>.
  // vitstream:unroll d < HF
  subgroupMatrixStore<row_major>(&sTile, sg * ROWS * SW + {d}u * 16u, o{d}, SW);
  // vitstream:end
  workgroupBarrier();
  let qi = q0 + sg * ROWS + r;
  if (qi < Tn) {
    let inv = 1.0 / l;
    let ob = ((base + qi) * params.hidden + wid.y * HEAD_DIM + oc) / 4u;
    // vitstream:unroll v < OV
    {
      let o = sRow + oc + {v}u * 4u;
      out[ob + {v}u] = vec4<f16>(vec4<f32>(sTile[o], sTile[o + 1u], sTile[o + 2u], sTile[o + 3u]) * inv);
    }
    // vitstream:end
  }
}

// Four scaled scores of a row from the scratch (o: scratch index, c: column in the tile); columns
// at or past `valid` (keys past T) masked.
fn scoreQuad(o: u32, c: u32, valid: u32, scale: f32) -> vec4<f32> {
  let s = vec4<f32>(sTile[o], sTile[o + 1u], sTile[o + 2u], sTile[o + 3u]) * scale;
  return select(vec4<f32>(NEG), s, vec4<u32>(c, c + 1u, c + 2u, c + 3u) < vec4<u32>(valid));
}

// Vector e of a key tile starting at token k0 (row e / DV, column e % DV): K or V by `col`; zeros
// past T.
fn loadKey(e: u32, base: u32, k0: u32, Tn: u32, row8: u32, col: u32) -> vec4<u32> {
  let j = k0 + e / DV;
  if (j < Tn) { return qkv[(base + j) * row8 + col + e % DV]; }
  return vec4<u32>();
}

// Eight halves (as 16 bytes) into a tile of vec4<f16> at vector index t.
fn put(tile: ptr<workgroup, array<vec4<f16>, BKV * SKV / 4u>>, t: u32, v: vec4<u32>) {
  (*tile)[t] = bitcast<vec4<f16>>(v.xy);
  (*tile)[t + 1u] = bitcast<vec4<f16>>(v.zw);
}
