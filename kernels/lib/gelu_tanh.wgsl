// GELU (tanh) for the FP and INT8 GEMM epilogues (`// vitstream:include lib/gelu_tanh.wgsl`):
// 0.5·x·(1 + tanh(u)) = x·σ(2u), u = √(2/π)·(x + 0.044715x³), evaluated as x / (1 + 2^(-2u·log2 e)):
// one exp2 and a division, cheaper than the driver's tanh (docs/kernels.md). Large |x| is safe:
// the exp2 goes to 0 or +inf, and x / inf is 0.
const GELU_K1: f32 = -2.3022081983; // -2·√(2/π)·log2 e
const GELU_K3: f32 = -0.1029432396; // GELU_K1 · 0.044715

fn geluTanh(x: f32) -> f32 {
  return x / (1.0 + exp2(x * (GELU_K1 + GELU_K3 * x * x)));
}
