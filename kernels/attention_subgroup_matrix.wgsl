// Fused multi-head attention on tensor cores (flash-attention style), for adapters with f16
// 16x16x16 subgroup matrices and 32-wide subgroups: softmax(q kᵀ · scale) v, f16 storage, f32
// scores and accumulation; the T x T score matrix never leaves workgroup memory.
// A workgroup of QSG = 4 subgroups owns BQ = 128 queries of one (image, head), each subgroup 32
// rows whose Q fragments stay in registers. Keys and values are walked in staged tiles of BKV =
// 32 (rows past T zeroed, their scores masked): S = Q Kᵀ, a softmax with one lane per row and a
// lazily moved max (O is rescaled only when a row's max grows by more than THRESH), O += P V.
// INT8_IO = 1 (INT8 mode 2): int8 q, k, v in, int8 out, scales through params.
// Designs, each off by default: DIRECT_KV reads full key tiles' K and V fragments straight from
// storage (f16 only); KT64 walks 64-key tiles with f16 scores computed from a pre-scaled Q, the
// scores overwritten by P in place and K and V staged one after the other; QSG sets the subgroups.
// Design notes and the variants that lost: docs/kernels.md.
enable f16;
enable subgroups;
enable chromium_experimental_subgroup_matrix;
// vitstream:include lib/int8_pack.wgsl
// vitstream:include lib/int8_to_f16.wgsl

const HEAD_DIM: u32 = 64u; // vitstream:const HEAD_DIM
// 1: int8 q, k, v in and int8 out (see top); 0: f16.
const INT8_IO: u32 = 0u; // vitstream:const INT8_IO
// 1: full key tiles' K and V fragments from storage, only a ragged last tile staged; 0: all staged.
const DIRECT_KV: u32 = 0u; // vitstream:const DIRECT_KV
// 1: 64-key tiles (BKV) with f16 scores; 0: 32-key tiles with f32 scores.
const KT64: u32 = 0u; // vitstream:const KT64
const EPV = 8u + 8u * INT8_IO;        // elements per 16-byte global vector
const QSG: u32 = 4u; // vitstream:const QSG
const RF = 2u;                        // row fragments per subgroup
const ROWS = 16u * RF;                // query rows per subgroup: one per lane
const BQ = ROWS * QSG;
const BKV: u32 = 32u; // vitstream:const BKV
const THREADS = 32u * QSG;
const HF = HEAD_DIM / 16u;            // fragments along the head dimension
const KF = BKV / 16u;                 // fragments along a key tile
// O fragments per pass through the score scratch: min(HF, KF), set with HEAD_DIM.
const OC: u32 = 2u; // vitstream:const OC
const NCH = HF / OC;                  // such passes
const DV = HEAD_DIM / EPV;            // 16-byte vectors per head row
const SKV = HEAD_DIM + 8u;            // K/V (and Q) tile row stride (f16), padded against bank conflicts
const SP = BKV + 8u;                  // P row stride (f16)
// vitstream:if KT64
const SW = 16u * OC + 4u;             // output scratch row stride (f32): scores live in the P tile
// vitstream:else
const SW = BKV + 4u;                  // score / output scratch row stride (f32)
// vitstream:end
const SV = BKV / 4u;                  // score vec4s per lane (its whole row)
const OV = OC * 4u;                   // output vec4s per lane and pass
const LOG2E = 1.4426950408889634;
const NEG = -1.0e30;                  // not -inf: -inf - -inf would be NaN
const THRESH = 8.0;                   // lazy rescale: log2 of the largest P
const_assert ROWS == 32u;             // softmax: one lane per row
const_assert HEAD_DIM % 16u == 0u;
const_assert HF % OC == 0u && OC <= KF;
// vitstream:if DIRECT_KV
const_assert INT8_IO == 0u;           // int8 K and V become f16 only as they are staged
// vitstream:end
// vitstream:if KT64
const_assert BKV == 64u;              // the module sets both
// vitstream:end
const KV_VECS = BKV * DV;             // 16-byte vectors per K (and V) tile
const KV_PER_THREAD = (KV_VECS + THREADS - 1u) / THREADS;
const Q_PER_THREAD = BQ * DV / THREADS;
const PQ_TILE = max(BQ * SKV, BQ * SP) / 4u;  // the P tile, which first holds Q

// vitstream:params (struct Params, declared in src/engine/kernels/attention.ts)

@group(0) @binding(0) var<uniform> params: Params;
// Read 16 bytes at a time (8 halves or 16 int8 as vec4<u32>): fewer load instructions.
// vitstream:if DIRECT_KV
// As f16 vectors: matrix loads need an f16 array (8-byte vectors; offsets and strides count them).
@group(0) @binding(1) var<storage, read> qkv: array<vec4<f16>>;        // [N * T, 3D]: q | k | v
// vitstream:else
@group(0) @binding(1) var<storage, read> qkv: array<vec4<u32>>;        // [N * T, 3D]: q | k | v
// vitstream:end
// vitstream:if INT8_IO
@group(0) @binding(2) var<storage, read_write> out: array<u32>;        // [N * T, D / 4] packed int8
// vitstream:else
@group(0) @binding(2) var<storage, read_write> out: array<vec4<f16>>;  // [N * T, D]
// vitstream:end

// Tiles of f16 as vec4s: one store per staged vector (as in the GEMM); matrix loads through the
// vector-array overload count offsets and strides in vectors.
// vitstream:if KT64
var<workgroup> kTile: array<vec4<f16>, BKV * SKV / 4u>;  // K, then V, of a staged key tile
// vitstream:else
var<workgroup> kTile: array<vec4<f16>, BKV * SKV / 4u>;
var<workgroup> vTile: array<vec4<f16>, BKV * SKV / 4u>;
// vitstream:end
var<workgroup> pTile: array<vec4<f16>, PQ_TILE>;
var<workgroup> sTile: array<vec4<f32>, BQ * SW / 4u>;
var<workgroup> grown: array<u32, QSG>;

@compute @workgroup_size(THREADS)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) tid: u32,
        @builtin(subgroup_id) sg: u32, @builtin(subgroup_invocation_id) lane: u32) {
  let Tn = params.tokens;
  let D8 = params.hidden / EPV;         // vectors per D columns
  let row8 = 3u * D8;
  let h8 = wid.y * DV;
  let base = wid.z * Tn;
  let q0 = wid.x * BQ;
  let scale = params.scale * LOG2E;
  // vitstream:if DIRECT_KV
  // Fragment offsets and strides in qkv's 8-byte vectors: K row 0 of this image and head, a row.
  let row4 = 3u * params.hidden / 4u;
  let kBase = base * row4 + params.hidden / 4u + wid.y * HEAD_DIM / 4u;
  let vBase = kBase + params.hidden / 4u;
  // vitstream:end

  // Q through the P tile into registers, once. P is first written after the first key tile's
  // staging barrier, which every subgroup reaches only after loading its Q fragments.
  // vitstream:unroll i < Q_PER_THREAD
  {
    let e = tid + {i}u * THREADS;
    let r = e / DV;
    var v = vec4<u32>();
    // vitstream:if DIRECT_KV
    if (q0 + r < Tn) { v = qkvVec((base + q0 + r) * row8 + h8 + e % DV); }
    // vitstream:else
    if (q0 + r < Tn) { v = qkv[(base + q0 + r) * row8 + h8 + e % DV]; }
    // vitstream:end
    let t = (r * SKV + (e % DV) * EPV) / 4u;
    // vitstream:unroll j < EPV / 4
    // vitstream:if KT64
    // f16 scores come out scaled (log2 units): int8 q·k sums would pass f16's range unscaled.
    pTile[t + {j}u] = vec4<f16>(vec4<f32>(quad(v, {j}u)) * scale);
    // vitstream:else
    pTile[t + {j}u] = quad(v, {j}u);
    // vitstream:end
    // vitstream:end
  }
  // vitstream:end
  workgroupBarrier();
  // vitstream:unroll f < RF
  // vitstream:unroll d < HF
  let qf{f}{d} = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&pTile, ((sg * ROWS + {f}u * 16u) * SKV + {d}u * 16u) / 4u, SKV / 4u);
  var o{f}{d} = subgroup_matrix_result<f32, 16, 16>();
  // vitstream:end
  // vitstream:end
  // vitstream:if DIRECT_KV
  // A first full tile has no staging barrier, and P or S rows overlap other subgroups' Q rows.
  workgroupBarrier();
  // vitstream:end

  // This lane's query row.
  let sRow = (sg * ROWS + lane) * SW;
  let pRow = (sg * ROWS + lane) * SP;
  var m = NEG;
  var l = 0.0;

  // vitstream:if !DIRECT_KV
  // vitstream:unroll i < KV_PER_THREAD
  var kr{i} = loadKey(tid + {i}u * THREADS, base, 0u, Tn, row8, h8 + D8);
  var vr{i} = loadKey(tid + {i}u * THREADS, base, 0u, Tn, row8, h8 + 2u * D8);
  // vitstream:end
  // vitstream:end
  for (var k0 = 0u; k0 < Tn; k0 += BKV) {
    // vitstream:if DIRECT_KV
    // Only a ragged last tile (keys past T zeroed) is staged; it is loaded as it is staged.
    let full = k0 + BKV <= Tn;
    if (!full) {
      // vitstream:unroll i < KV_PER_THREAD
      if (tid + {i}u * THREADS < KV_VECS) {
        let e = tid + {i}u * THREADS;
        let t = ((e / DV) * SKV + (e % DV) * EPV) / 4u;
        let kw = loadKey(e, base, k0, Tn, row8, h8 + D8);
        // vitstream:if !KT64
        let vw = loadKey(e, base, k0, Tn, row8, h8 + 2u * D8);
        // vitstream:end
        // vitstream:unroll j < EPV / 4
        kTile[t + {j}u] = quad(kw, {j}u);
        // vitstream:if !KT64
        vTile[t + {j}u] = quad(vw, {j}u);
        // vitstream:end
        // vitstream:end
      }
      // vitstream:end
      workgroupBarrier();
    }
    // vitstream:else
    // vitstream:unroll i < KV_PER_THREAD
    if (tid + {i}u * THREADS < KV_VECS) {
      let e = tid + {i}u * THREADS;
      let t = ((e / DV) * SKV + (e % DV) * EPV) / 4u;
      // vitstream:unroll j < EPV / 4
      kTile[t + {j}u] = quad(kr{i}, {j}u);
      // vitstream:if !KT64
      vTile[t + {j}u] = quad(vr{i}, {j}u);
      // vitstream:end
      // vitstream:end
    }
    // vitstream:end
    workgroupBarrier();
    if (k0 + BKV < Tn) {
      // vitstream:unroll i < KV_PER_THREAD
      kr{i} = loadKey(tid + {i}u * THREADS, base, k0 + BKV, Tn, row8, h8 + D8);
      // vitstream:if !KT64
      vr{i} = loadKey(tid + {i}u * THREADS, base, k0 + BKV, Tn, row8, h8 + 2u * D8);
      // vitstream:end
      // vitstream:end
    }
    // vitstream:end

    // S = Q Kᵀ: Kᵀ is the K tile read column-major; each K fragment serves both row fragments.
    // vitstream:if DIRECT_KV
    if (full) {
      // vitstream:unroll j < KF
      {
        // vitstream:unroll f < RF
        // vitstream:if KT64
        var s{f} = subgroup_matrix_result<f16, 16, 16>();
        // vitstream:else
        var s{f} = subgroup_matrix_result<f32, 16, 16>();
        // vitstream:end
        // vitstream:end
        // vitstream:unroll d < HF
        {
          let kb = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&qkv, kBase + (k0 + {j}u * 16u) * row4 + {d}u * 4u, row4);
          // vitstream:unroll f < RF
          s{f} = subgroupMatrixMultiplyAccumulate(qf{f}{d}, kb, s{f});
          // vitstream:end
        }
        // vitstream:end
        // vitstream:unroll f < RF
        // vitstream:if KT64
        subgroupMatrixStore<row_major>(&pTile, ((sg * ROWS + {f}u * 16u) * SP + {j}u * 16u) / 4u, s{f}, SP / 4u);
        // vitstream:else
        subgroupMatrixStore<row_major>(&sTile, ((sg * ROWS + {f}u * 16u) * SW + {j}u * 16u) / 4u, s{f}, SW / 4u);
        // vitstream:end
        // vitstream:end
      }
      // vitstream:end
    } else {
    // vitstream:end
    // vitstream:unroll j < KF
    if (k0 + {j}u * 16u < Tn) {
      // vitstream:unroll f < RF
      // vitstream:if KT64
      var s{f} = subgroup_matrix_result<f16, 16, 16>();
      // vitstream:else
      var s{f} = subgroup_matrix_result<f32, 16, 16>();
      // vitstream:end
      // vitstream:end
      // vitstream:unroll d < HF
      {
        let kb = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&kTile, ({j}u * 16u * SKV + {d}u * 16u) / 4u, SKV / 4u);
        // vitstream:unroll f < RF
        s{f} = subgroupMatrixMultiplyAccumulate(qf{f}{d}, kb, s{f});
        // vitstream:end
      }
      // vitstream:end
      // vitstream:unroll f < RF
      // vitstream:if KT64
      subgroupMatrixStore<row_major>(&pTile, ((sg * ROWS + {f}u * 16u) * SP + {j}u * 16u) / 4u, s{f}, SP / 4u);
      // vitstream:else
      subgroupMatrixStore<row_major>(&sTile, ((sg * ROWS + {f}u * 16u) * SW + {j}u * 16u) / 4u, s{f}, SW / 4u);
      // vitstream:end
      // vitstream:end
    }
    // vitstream:end
    // vitstream:if DIRECT_KV
    }
    // vitstream:end
    workgroupBarrier();

    // vitstream:if KT64
    // V into the K tile, which every subgroup has finished reading (barrier above); the barrier of
    // the max vote below publishes it.
    // vitstream:if DIRECT_KV
    if (!full) {
      // vitstream:unroll i < KV_PER_THREAD
      if (tid + {i}u * THREADS < KV_VECS) {
        let e = tid + {i}u * THREADS;
        let t = ((e / DV) * SKV + (e % DV) * EPV) / 4u;
        let vw = loadKey(e, base, k0, Tn, row8, h8 + 2u * D8);
        // vitstream:unroll j < EPV / 4
        kTile[t + {j}u] = quad(vw, {j}u);
        // vitstream:end
      }
      // vitstream:end
    }
    // vitstream:else
    // vitstream:unroll i < KV_PER_THREAD
    if (tid + {i}u * THREADS < KV_VECS) {
      let e = tid + {i}u * THREADS;
      let t = ((e / DV) * SKV + (e % DV) * EPV) / 4u;
      // vitstream:unroll j < EPV / 4
      kTile[t + {j}u] = quad(vr{i}, {j}u);
      // vitstream:end
    }
    // vitstream:end
    if (k0 + BKV < Tn) {
      // vitstream:unroll i < KV_PER_THREAD
      vr{i} = loadKey(tid + {i}u * THREADS, base, k0 + BKV, Tn, row8, h8 + 2u * D8);
      // vitstream:end
    }
    // vitstream:end
    // vitstream:end

    // Softmax over this tile against the lazily moved max m, in base 2.
    let valid = min(BKV, Tn - k0);
    var tileMax = NEG;
    // vitstream:if KT64
    // The f16 scores are read twice rather than held: 64 more registers a lane would spill.
    // vitstream:unroll v < SV
    {
      let x = scoreQuad16(pRow + {v}u * 4u, {v}u * 4u, valid);
      tileMax = max(tileMax, max(max(x.x, x.y), max(x.z, x.w)));
    }
    // vitstream:end
    // vitstream:else
    // vitstream:unroll v < SV
    let x{v} = scoreQuad(sRow + {v}u * 4u, {v}u * 4u, valid, scale);
    tileMax = max(tileMax, max(max(x{v}.x, x{v}.y), max(x{v}.z, x{v}.w)));
    // vitstream:end
    // vitstream:end
    let grow = k0 != 0u && tileMax > m + THRESH;
    var mNew = m;
    if (k0 == 0u || grow) { mNew = tileMax; }
    var psum = 0.0;
    // vitstream:unroll v < SV
    {
      // vitstream:if KT64
      let p = exp2(scoreQuad16(pRow + {v}u * 4u, {v}u * 4u, valid) - vec4<f32>(mNew));
      // vitstream:else
      let p = exp2(x{v} - vec4<f32>(mNew));
      // vitstream:end
      psum += (p.x + p.y) + (p.z + p.w);
      pTile[(pRow + {v}u * 4u) / 4u] = vec4<f16>(p);
    }
    // vitstream:end
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
      // O through this subgroup's scratch rows (their scores were read above), OC fragments at a
      // time: row * alpha.
      // vitstream:unroll c < NCH
      // vitstream:unroll f < RF
      // vitstream:unroll d < HF
      if ({d}u / OC == {c}u) {
        subgroupMatrixStore<row_major>(&sTile, ((sg * ROWS + {f}u * 16u) * SW + ({d}u % OC) * 16u) / 4u, o{f}{d}, SW / 4u);
      }
      // vitstream:end
      // vitstream:end
      workgroupBarrier();
      for (var c4 = 0u; c4 < OC * 4u; c4++) {
        sTile[sRow / 4u + c4] *= alpha;
      }
      workgroupBarrier();
      // vitstream:unroll f < RF
      // vitstream:unroll d < HF
      if ({d}u / OC == {c}u) {
        o{f}{d} = subgroupMatrixLoad<subgroup_matrix_result<f32, 16, 16>, row_major>(&sTile, ((sg * ROWS + {f}u * 16u) * SW + ({d}u % OC) * 16u) / 4u, SW / 4u);
      }
      // vitstream:end
      // vitstream:end
      workgroupBarrier();
      // vitstream:end
    }

    // O += P V; each V fragment serves both row fragments.
    // vitstream:if DIRECT_KV
    if (full) {
      // vitstream:unroll j < KF
      {
        // vitstream:unroll f < RF
        let pf{f} = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&pTile, ((sg * ROWS + {f}u * 16u) * SP + {j}u * 16u) / 4u, SP / 4u);
        // vitstream:end
        // vitstream:unroll d < HF
        {
          let vb = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, row_major>(&qkv, vBase + (k0 + {j}u * 16u) * row4 + {d}u * 4u, row4);
          // vitstream:unroll f < RF
          o{f}{d} = subgroupMatrixMultiplyAccumulate(pf{f}, vb, o{f}{d});
          // vitstream:end
        }
        // vitstream:end
      }
      // vitstream:end
    } else {
    // vitstream:end
    // vitstream:unroll j < KF
    if (k0 + {j}u * 16u < Tn) {
      // vitstream:unroll f < RF
      let pf{f} = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&pTile, ((sg * ROWS + {f}u * 16u) * SP + {j}u * 16u) / 4u, SP / 4u);
      // vitstream:end
      // vitstream:unroll d < HF
      {
        // vitstream:if KT64
        let vb = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, row_major>(&kTile, ({j}u * 16u * SKV + {d}u * 16u) / 4u, SKV / 4u);
        // vitstream:else
        let vb = subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, row_major>(&vTile, ({j}u * 16u * SKV + {d}u * 16u) / 4u, SKV / 4u);
        // vitstream:end
        // vitstream:unroll f < RF
        o{f}{d} = subgroupMatrixMultiplyAccumulate(pf{f}, vb, o{f}{d});
        // vitstream:end
      }
      // vitstream:end
    }
    // vitstream:end
    // vitstream:if DIRECT_KV
    }
    // vitstream:end
    // Every subgroup is done with the K, V and P tiles before they are overwritten. Direct 32-key
    // tiles need none: S goes to the scratch, P and the one staged tile are separated by barriers.
    // vitstream:if KT64 + !DIRECT_KV
    workgroupBarrier();
    // vitstream:end
  }

  // O / l through the scratch rows, OC fragments at a time, a lane's row as vec4<f16>.
  let qi = q0 + sg * ROWS + lane;
  let inv = select(1.0, params.outScale, INT8_IO == 1u) / l;
  let ob = ((base + qi) * params.hidden + wid.y * HEAD_DIM) / 4u;
  // vitstream:unroll c < NCH
  // vitstream:unroll f < RF
  // vitstream:unroll d < HF
  if ({d}u / OC == {c}u) {
    subgroupMatrixStore<row_major>(&sTile, ((sg * ROWS + {f}u * 16u) * SW + ({d}u % OC) * 16u) / 4u, o{f}{d}, SW / 4u);
  }
  // vitstream:end
  // vitstream:end
  workgroupBarrier();
  if (qi < Tn) {
    // vitstream:unroll v < OV
    {
      let r = sTile[sRow / 4u + {v}u] * inv;
      // vitstream:if INT8_IO
      out[ob + {c}u * OV + {v}u] = quantize4(r, 1.0);
      // vitstream:else
      out[ob + {c}u * OV + {v}u] = vec4<f16>(r);
      // vitstream:end
    }
    // vitstream:end
  }
  workgroupBarrier();
  // vitstream:end
}

// Quad j of a 16-byte global vector as f16: halves 4j..4j+3, or int8 values 4j..4j+3 (word j).
fn quad(w: vec4<u32>, j: u32) -> vec4<f16> {
  if (INT8_IO == 1u) { return int8ToF16(w[j]); }
  return bitcast<vec4<f16>>(select(w.zw, w.xy, j == 0u));
}

// Four scaled scores of a row from the scratch (o: scratch index, c: column in the tile); columns
// at or past `valid` (keys past T) masked.
fn scoreQuad(o: u32, c: u32, valid: u32, scale: f32) -> vec4<f32> {
  let s = sTile[o / 4u] * scale;
  return select(vec4<f32>(NEG), s, vec4<u32>(c, c + 1u, c + 2u, c + 3u) < vec4<u32>(valid));
}

// Vector e of a key tile starting at token k0 (row e / DV, column e % DV): K or V by `col`; zeros
// past T (and for e past the tile, when a tile has fewer vectors than the workgroup threads).
fn loadKey(e: u32, base: u32, k0: u32, Tn: u32, row8: u32, col: u32) -> vec4<u32> {
  let j = k0 + e / DV;
  // vitstream:if DIRECT_KV
  if (e < KV_VECS && j < Tn) { return qkvVec((base + j) * row8 + col + e % DV); }
  // vitstream:else
  if (e < KV_VECS && j < Tn) { return qkv[(base + j) * row8 + col + e % DV]; }
  // vitstream:end
  return vec4<u32>();
}
// vitstream:if DIRECT_KV

// 16-byte vector i of qkv, from its view as 8-byte f16 vectors.
fn qkvVec(i: u32) -> vec4<u32> {
  return vec4<u32>(bitcast<vec2<u32>>(qkv[2u * i]), bitcast<vec2<u32>>(qkv[2u * i + 1u]));
}
// vitstream:end
// vitstream:if KT64

// Four f16 scores of a row from the P tile (o: tile index, c: column in the key tile), already
// scaled; columns at or past `valid` masked in f32 (NEG is -inf in f16).
fn scoreQuad16(o: u32, c: u32, valid: u32) -> vec4<f32> {
  let s = vec4<f32>(pTile[o / 4u]);
  return select(vec4<f32>(NEG), s, vec4<u32>(c, c + 1u, c + 2u, c + 3u) < vec4<u32>(valid));
}
// vitstream:end
