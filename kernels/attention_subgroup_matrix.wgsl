// Fused multi-head attention on tensor cores (flash-attention style), for adapters with f16
// 16x16x16 subgroup matrices and 32-wide subgroups. softmax(q kᵀ · scale) v, f16 storage,
// f32 scores and accumulation; the T x T score matrix never leaves workgroup memory.
//
// A workgroup of QSG subgroups owns BQ = 16 QSG queries of one (image, head); each subgroup owns
// 16 query rows, whose Q fragments stay in registers. Keys and values are walked in tiles of BKV,
// staged in workgroup memory (rows past T zeroed, their scores masked), so T need not be a
// multiple of 16. Per tile and subgroup:
//   S = Q Kᵀ            subgroup matrices, stored as f32 to the subgroup's scratch rows
//   online softmax      two lanes per query row (lane % 16 = row, lane / 16 = column parity);
//                       running max and sum in base 2, P written as f16
//   PV = P V            subgroup matrices into fresh accumulators, stored over the scratch
//   o = o * alpha + PV  each lane keeps its half of its row's output in registers
// Matrix offsets derive from @builtin(subgroup_id) so that they are subgroup-uniform. Loops over
// fragments and lane columns are unrolled (vitstream:unroll): fragments and per-lane values are
// named registers, never arrays a compiler might spill to local memory.
enable f16;
enable subgroups;
enable chromium_experimental_subgroup_matrix;

const HEAD_DIM: u32 = 64u; // vitstream:const HEAD_DIM
const QSG: u32 = 4u; // vitstream:const QSG
const BQ = 16u * QSG;
const BKV = 64u;
const THREADS = 32u * QSG;
const HF = HEAD_DIM / 16u;            // fragments along the head dimension
const KF = BKV / 16u;                 // fragments along a key tile
const DV = HEAD_DIM / 4u;             // vec4s per head row
const SKV = HEAD_DIM + 8u;            // K/V tile row stride (f16), padded against bank conflicts
const SP = BKV + 8u;                  // P row stride (f16)
const SW = max(BKV, HEAD_DIM) + 4u;   // score / PV scratch row stride (f32)
const SCOLS = BKV / 2u;               // score columns per lane
const OCOLS = HEAD_DIM / 2u;          // output columns per lane
const LOG2E = 1.4426950408889634;
const NEG = -1.0e30;                  // not -inf: -inf - -inf would be NaN
const_assert BQ <= BKV;               // Q is staged through the K tile
const_assert HEAD_DIM % 16u == 0u;
const KV_PER_THREAD = BKV * DV / THREADS;  // vec4s of K (and of V) each thread stages per tile
const_assert (BKV * DV) % THREADS == 0u;

struct Params {
  count: u32,
  tokens: u32,
  hidden: u32,   // D = heads * HEAD_DIM
  scale: f32,    // HEAD_DIM^-0.5
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> qkv: array<vec4<f16>>;  // [N * T, 3D]: q | k | v
@group(0) @binding(2) var<storage, read_write> out: array<f16>;   // [N * T, D]

// K and V tiles as vec4s: one store per staged vector (as in the GEMM); matrix loads through the
// vector-array overload count offsets and strides in vectors.
var<workgroup> kTile: array<vec4<f16>, BKV * SKV / 4u>;
var<workgroup> vTile: array<vec4<f16>, BKV * SKV / 4u>;
var<workgroup> pTile: array<f16, BQ * SP>;
var<workgroup> sTile: array<f32, BQ * SW>;

@compute @workgroup_size(THREADS)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) tid: u32,
        @builtin(subgroup_id) sg: u32, @builtin(subgroup_invocation_id) lane: u32) {
  let Tn = params.tokens;
  let D4 = params.hidden / 4u;
  let row4 = 3u * D4;
  let h4 = wid.y * DV;
  let base = wid.z * Tn;
  let q0 = wid.x * BQ;
  let scale = params.scale * LOG2E;

  // Q through the K tile into registers, once.
  for (var e = tid; e < BQ * DV; e += THREADS) {
    let r = e / DV;
    let c = e % DV;
    var v = vec4<f16>();
    if (q0 + r < Tn) { v = qkv[(base + q0 + r) * row4 + h4 + c]; }
    kTile[(r * SKV + c * 4u) / 4u] = v;
  }
  workgroupBarrier();
  // vitstream:unroll d < HF
  let qf{d} = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&kTile, (sg * 16u * SKV + {d}u * 16u) / 4u, SKV / 4u);
  // vitstream:end
  workgroupBarrier();

  let r = lane % 16u;
  let half = lane / 16u;
  let sRow = (sg * 16u + r) * SW;
  let pRow = (sg * 16u + r) * SP;
  var m = NEG;
  var l = 0.0;
  // vitstream:unroll i < OCOLS
  var o{i} = 0.0;
  // vitstream:end

  // The next key tile's global loads are in flight in registers while this one is multiplied.
  // vitstream:unroll i < KV_PER_THREAD
  var kr{i} = loadKey(tid + {i}u * THREADS, base, 0u, Tn, row4, h4 + D4);
  var vr{i} = loadKey(tid + {i}u * THREADS, base, 0u, Tn, row4, h4 + 2u * D4);
  // vitstream:end
  for (var k0 = 0u; k0 < Tn; k0 += BKV) {
    // vitstream:unroll i < KV_PER_THREAD
    {
      let e = tid + {i}u * THREADS;
      let t = ((e / DV) * SKV + (e % DV) * 4u) / 4u;
      kTile[t] = kr{i};
      vTile[t] = vr{i};
    }
    // vitstream:end
    workgroupBarrier();
    if (k0 + BKV < Tn) {
      // vitstream:unroll i < KV_PER_THREAD
      kr{i} = loadKey(tid + {i}u * THREADS, base, k0 + BKV, Tn, row4, h4 + D4);
      vr{i} = loadKey(tid + {i}u * THREADS, base, k0 + BKV, Tn, row4, h4 + 2u * D4);
      // vitstream:end
    }

    // S = Q Kᵀ: Kᵀ is the K tile read column-major.
    // vitstream:unroll j < KF
    {
      var s = subgroup_matrix_result<f32, 16, 16>();
      // vitstream:unroll d < HF
      s = subgroupMatrixMultiplyAccumulate(qf{d},
        subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&kTile, ({j}u * 16u * SKV + {d}u * 16u) / 4u, SKV / 4u), s);
      // vitstream:end
      subgroupMatrixStore<row_major>(&sTile, sg * 16u * SW + {j}u * 16u, s, SW);
    }
    // vitstream:end
    workgroupBarrier();

    // Online softmax over this tile, in base 2.
    let valid = min(BKV, Tn - k0);
    var tileMax = m;
    // vitstream:unroll i < SCOLS
    let x{i} = select(NEG, sTile[sRow + 2u * {i}u + half] * scale, 2u * {i}u + half < valid);
    tileMax = max(tileMax, x{i});
    // vitstream:end
    tileMax = max(tileMax, subgroupShuffleXor(tileMax, 16u));
    let alpha = exp2(m - tileMax);
    var psum = 0.0;
    // vitstream:unroll i < SCOLS
    {
      let p = exp2(x{i} - tileMax);
      psum += p;
      pTile[pRow + 2u * {i}u + half] = f16(p);
    }
    // vitstream:end
    l = l * alpha + psum + subgroupShuffleXor(psum, 16u);
    m = tileMax;
    workgroupBarrier();

    // PV = P V into the scratch rows (the scores there have been consumed).
    // vitstream:unroll j < KF
    let pf{j} = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&pTile, sg * 16u * SP + {j}u * 16u, SP);
    // vitstream:end
    // vitstream:unroll d < HF
    {
      var acc = subgroup_matrix_result<f32, 16, 16>();
      // vitstream:unroll j < KF
      acc = subgroupMatrixMultiplyAccumulate(pf{j},
        subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, row_major>(&vTile, ({j}u * 16u * SKV + {d}u * 16u) / 4u, SKV / 4u), acc);
      // vitstream:end
      subgroupMatrixStore<row_major>(&sTile, sg * 16u * SW + {d}u * 16u, acc, SW);
    }
    // vitstream:end
    workgroupBarrier();
    // vitstream:unroll i < OCOLS
    o{i} = o{i} * alpha + sTile[sRow + 2u * {i}u + half];
    // vitstream:end
  }

  let qi = q0 + sg * 16u + r;
  if (qi < Tn) {
    let inv = 1.0 / l;
    let ob = (base + qi) * params.hidden + wid.y * HEAD_DIM;
    // vitstream:unroll i < OCOLS
    out[ob + 2u * {i}u + half] = f16(o{i} * inv);
    // vitstream:end
  }
}

// vec4 e of a key tile starting at token k0 (row e / DV, column e % DV): K or V by `col`; zeros past T.
fn loadKey(e: u32, base: u32, k0: u32, Tn: u32, row4: u32, col: u32) -> vec4<f16> {
  let j = k0 + e / DV;
  if (j < Tn) { return qkv[(base + j) * row4 + col + e % DV]; }
  return vec4<f16>();
}
