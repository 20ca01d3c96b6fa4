// Epilogue shared by the INT8 GEMMs (`// vitstream:include epilogue_int8.wgsl`): dequantise the
// int32 sum (acc · aScale · wScale[n]), add the bias, then GELU or a residual add; mode 2 kernels
// then quantise the result for the next GEMM. Kept apart from epilogue.wgsl so that the FP16
// kernels can change without moving the INT8 numerics.
//   EPILOGUE  0: bias   1: bias + GELU (erf)   2: bias + GELU (tanh)   3: bias + residual
//   OUT_INT8  0: f16 output   1: int8 output, 4 per u32 word (N a multiple of 4)
override EPILOGUE: u32 = 0u;
override OUT_INT8: u32 = 0u;

// Both GELUs as the tanh form, written x·σ(2u) = x / (1 + 2^(-2u·log2 e)) with
// u = √(2/π)·(x + 0.044715x³): one exp2 and one division per element. For GELU (tanh) that is
// the same function; for GELU (erf) it is FasterTransformer's approximation in its INT8 kernels,
// within 4.8e-4 of erf GELU (worst near x = -2.7), a twentieth of an int8 step wherever the next
// GEMM's input range exceeds 1.2. The erf form it replaced (Abramowitz & Stegun 7.1.26: a
// division, an exp and nine more operations) made fc1 the slowest INT8 GEMM per operation.
// Large |x| is safe: the exp2 goes to 0 or +inf, and x / inf is 0.
const GELU_K1: f32 = -2.3022081983; // -2·√(2/π)·log2 e
const GELU_K3: f32 = -0.1029432396; // GELU_K1 · 0.044715

fn activate(v: f32) -> f32 {
  if (EPILOGUE == 1u || EPILOGUE == 2u) {
    return v / (1.0 + exp2(v * (GELU_K1 + GELU_K3 * v * v)));
  }
  return v;
}

// quantize4 for mode 2 outputs.
// vitstream:include int8_pack.wgsl
