// Portable INT8 GEMM: C[M,N] = epilogue(dequant(A[M,K] · W[K,N])) with int8 operands and int32
// sums through dot4I8Packed (WGSL language feature packed_4x8_integer_dot_product: DP4A where
// the hardware has it). Both operands stream along K, 4 int8 per u32 word:
//   a: activations [M, K/4] (row-major, as the quantize kernels write them)
//   b: weights transposed, [N, K/4]: one row per output channel, quantised with its own scale.
// A 64x64 output tile per 16x16 workgroup, 4x4 outputs per thread, 32 K values staged per step.
// Thread (tx, ty) owns rows ty + 16i and the four adjacent columns 4tx..4tx+3, so that an int8
// output word (mode 2) is one thread's four results. K and N are multiples of 4.
enable f16;
// vitstream:include lib/epilogue_int8.wgsl

// vitstream:params (struct Params, declared in src/engine/kernels/gemm-int8.ts)

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<u32>;
@group(0) @binding(2) var<storage, read> b: array<u32>;
@group(0) @binding(3) var<storage, read> wScale: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read_write> c: array<f16>;    // f16 output (or residual in/out)
@group(0) @binding(6) var<storage, read_write> cq: array<u32>;   // int8 output, [M, N/4]

const TILE = 64u;
const TKW = 8u; // words (32 int8) of K per stage
var<workgroup> tileA: array<array<u32, TILE>, TKW>; // [kw][m]
var<workgroup> tileB: array<array<u32, TILE>, TKW>; // [kw][n]

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let M = params.M;
  let N = params.N;
  let KW = params.K / 4u;
  let row0 = wid.y * TILE;
  let col0 = wid.x * TILE;
  let tid = lid.y * 16u + lid.x;
  var acc: array<array<i32, 4>, 4>;
  for (var k0 = 0u; k0 < KW; k0 += TKW) {
    // 512 words per operand tile, two per thread; consecutive threads read consecutive words.
    for (var l = 0u; l < 2u; l++) {
      let e = tid + l * 256u;
      let r = e / TKW;
      let kw = e % TKW;
      var av = 0u;
      if (row0 + r < M && k0 + kw < KW) { av = a[(row0 + r) * KW + k0 + kw]; }
      tileA[kw][r] = av;
      var bv = 0u;
      if (col0 + r < N && k0 + kw < KW) { bv = b[(col0 + r) * KW + k0 + kw]; }
      tileB[kw][r] = bv;
    }
    workgroupBarrier();
    for (var kw = 0u; kw < TKW; kw++) {
      var ar: array<u32, 4>;
      var br: array<u32, 4>;
      for (var i = 0u; i < 4u; i++) {
        ar[i] = tileA[kw][lid.y + 16u * i];
        br[i] = tileB[kw][lid.x * 4u + i];
      }
      for (var i = 0u; i < 4u; i++) {
        for (var j = 0u; j < 4u; j++) { acc[i][j] += dot4I8Packed(ar[i], br[j]); }
      }
    }
    workgroupBarrier();
  }
  let n0 = col0 + lid.x * 4u;
  if (n0 >= N) { return; }
  for (var i = 0u; i < 4u; i++) {
    let m = row0 + lid.y + 16u * i;
    if (m >= M) { continue; }
    var v: vec4<f32>;
    for (var j = 0u; j < 4u; j++) {
      let n = n0 + j;
      if (n >= N) { break; }
      var x = activate(f32(acc[i][j]) * params.aScale * wScale[n] + bias[n]);
      if (EPILOGUE == 3u) { x += f32(c[m * N + n]); }
      v[j] = x;
    }
    if (OUT_INT8 == 1u) {
      cq[m * (N / 4u) + n0 / 4u] = quantize4(v, params.outInvScale);
    } else {
      for (var j = 0u; j < 4u; j++) {
        if (n0 + j < N) { c[m * N + n0 + j] = f16(v[j]); }
      }
    }
  }
}
