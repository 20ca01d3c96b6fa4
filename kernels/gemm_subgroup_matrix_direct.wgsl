// Tensor-core GEMM that loads subgroup matrices straight from storage (no workgroup staging, no
// barrier in the K loop): C[M,N] = epilogue(A[M,K] · B[K,N] + bias), K and N multiples of 16.
// Each subgroup owns FM x FN fragments of 16x16 and loads the next KS K-steps' fragments while
// the current ones multiply; B_COL = 1 reads B pre-transposed ([N,K]). Edge rows: a fragment past
// M reads the last 16 rows and writes only its own; M < 16 stages A with zero rows. For timing
// only (it lost to gemm_subgroup_matrix.wgsl: docs/kernels.md).
enable f16;
enable subgroups;
enable chromium_experimental_subgroup_matrix;
// vitstream:include lib/epilogue.wgsl

const SG_M: u32 = 2u; // vitstream:const SG_M
const SG_N: u32 = 2u; // vitstream:const SG_N
const FM: u32 = 4u; // vitstream:const FM
const FN: u32 = 4u; // vitstream:const FN
const KS: u32 = 1u; // vitstream:const KS
const B_COL: u32 = 0u; // vitstream:const B_COL
const BM = 16u * FM * SG_M;
const BN = 16u * FN * SG_N;
const THREADS = 32u * SG_M * SG_N;
const SUBGROUPS = SG_M * SG_N;

// vitstream:params (struct Params, declared in src/engine/kernels/gemm.ts)

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<f16>;
@group(0) @binding(2) var<storage, read> b: array<f16>;
@group(0) @binding(3) var<storage, read> bias: array<vec4<f16>>;
@group(0) @binding(4) var<storage, read_write> c: array<vec4<f16>>;

var<workgroup> scratch: array<f32, 256u * FN * SUBGROUPS>;
var<workgroup> tinyA: array<f16, 256u>;

fn loadB(k: u32, n: u32) -> subgroup_matrix_right<f16, 16, 16> {
  if (B_COL == 1u) {
    return subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, col_major>(&b, n * params.K + k, params.K);
  }
  return subgroupMatrixLoad<subgroup_matrix_right<f16, 16, 16>, row_major>(&b, k * params.N + n, params.N);
}

fn loadA(rowOffset: u32, k: u32) -> subgroup_matrix_left<f16, 16, 16> {
  return subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&a, rowOffset + k, params.K);
}

// One lane writes 8 consecutive columns of one row of the fragment in scratch slot `slot`
// (rows from rl; only rows in [r, M), columns from n0 when n0 < N).
fn emit(slot: u32, lane: u32, r: u32, rl: u32, n0: u32) {
  let m = rl + lane / 2u;
  let n = n0 + (lane % 2u) * 8u;
  if (n0 < params.N && m >= r && m < params.M) {
    let e = slot * 256u + (lane / 2u) * 16u + (lane % 2u) * 8u;
    let q = (m * params.N + n) / 4u;
    // vitstream:unroll h < 2
    {
      let bv = vec4<f32>(bias[n / 4u + {h}u]);
      var p = vec4<f32>();
      if (EPILOGUE == 3u) { p = vec4<f32>(c[q + {h}u]); }
      let o = e + {h}u * 4u;
      c[q + {h}u] = vec4<f16>(vec4<f32>(
        applyEpilogue(scratch[o], bv.x, p.x), applyEpilogue(scratch[o + 1u], bv.y, p.y),
        applyEpilogue(scratch[o + 2u], bv.z, p.z), applyEpilogue(scratch[o + 3u], bv.w, p.w)));
    }
    // vitstream:end
  }
}

@compute @workgroup_size(THREADS)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) tid: u32,
        @builtin(subgroup_id) sg: u32, @builtin(subgroup_invocation_id) lane: u32) {
  let M = params.M;
  let N = params.N;
  let K = params.K;
  let row0 = wid.y * BM + (sg / SG_N) * 16u * FM;
  let col0 = wid.x * BN + (sg % SG_N) * 16u * FN;
  // Clamped fragment starts (see the header); when M < 16 the slow path ignores rl.
  // vitstream:unroll i < FM
  let rl{i} = select(0u, min(row0 + 16u * {i}u, M - 16u), M >= 16u);
  let ra{i} = rl{i} * K;
  // vitstream:end
  // vitstream:unroll j < FN
  let cn{j} = min(col0 + 16u * {j}u, N - 16u);
  // vitstream:end
  // vitstream:unroll i < FM
  // vitstream:unroll j < FN
  var acc{i}{j} = subgroup_matrix_result<f32, 16, 16>();
  // vitstream:end
  // vitstream:end

  if (M >= 16u) {
    // vitstream:unroll s < KS
    // vitstream:unroll i < FM
    var a{s}{i} = loadA(ra{i}, {s}u * 16u);
    // vitstream:end
    // vitstream:unroll j < FN
    var b{s}{j} = loadB({s}u * 16u, cn{j});
    // vitstream:end
    // vitstream:end
    var k = 16u * KS;
    loop {
      if (k >= K) { break; }
      // vitstream:unroll s < KS
      // vitstream:unroll i < FM
      let na{s}{i} = loadA(ra{i}, k + {s}u * 16u);
      // vitstream:end
      // vitstream:unroll j < FN
      let nb{s}{j} = loadB(k + {s}u * 16u, cn{j});
      // vitstream:end
      // vitstream:end
      // vitstream:unroll s < KS
      // vitstream:unroll j < FN
      // vitstream:unroll i < FM
      acc{i}{j} = subgroupMatrixMultiplyAccumulate(a{s}{i}, b{s}{j}, acc{i}{j});
      // vitstream:end
      // vitstream:end
      // vitstream:unroll i < FM
      a{s}{i} = na{s}{i};
      // vitstream:end
      // vitstream:unroll j < FN
      b{s}{j} = nb{s}{j};
      // vitstream:end
      // vitstream:end
      k += 16u * KS;
    }
    // vitstream:unroll s < KS
    // vitstream:unroll j < FN
    // vitstream:unroll i < FM
    acc{i}{j} = subgroupMatrixMultiplyAccumulate(a{s}{i}, b{s}{j}, acc{i}{j});
    // vitstream:end
    // vitstream:end
    // vitstream:end
  } else {
    // Fewer than 16 rows (a classifier head at a small batch): rows 0..15 of A through
    // workgroup memory, zero past M; only fragment row 0 of the first subgroup row is written.
    for (var k = 0u; k < K; k += 16u) {
      workgroupBarrier();
      for (var e = tid; e < 256u; e += THREADS) {
        var v = 0.0h;
        if (e / 16u < M) { v = a[(e / 16u) * K + k + e % 16u]; }
        tinyA[e] = v;
      }
      workgroupBarrier();
      let al = subgroupMatrixLoad<subgroup_matrix_left<f16, 16, 16>, row_major>(&tinyA, 0u, 16u);
      // vitstream:unroll j < FN
      acc0{j} = subgroupMatrixMultiplyAccumulate(al, loadB(k, cn{j}), acc0{j});
      // vitstream:end
    }
  }

  // Epilogue one fragment row at a time: FN fragments to this subgroup's scratch, then out.
  // vitstream:unroll i < FM
  // vitstream:unroll j < FN
  subgroupMatrixStore<row_major>(&scratch, (sg * FN + {j}u) * 256u, acc{i}{j}, 16u);
  // vitstream:end
  workgroupBarrier();
  // vitstream:unroll j < FN
  emit(sg * FN + {j}u, lane, row0 + 16u * {i}u, rl{i}, col0 + 16u * {j}u);
  // vitstream:end
  workgroupBarrier();
  // vitstream:end
}
