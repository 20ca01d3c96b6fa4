// Epilogue shared by the INT8 GEMMs (`// vitstream:include lib/epilogue_int8.wgsl`): dequantise the
// int32 sum (acc · aScale · wScale[n]), add the bias, then GELU or a residual add; mode 2 kernels
// then quantise the result for the next GEMM. Kept apart from epilogue.wgsl so that the FP16
// kernels can change without moving the INT8 numerics.
//   EPILOGUE  0: bias   1: bias + GELU (erf)   2: bias + GELU (tanh)   3: bias + residual
//   OUT_INT8  0: f16 output   1: int8 output, 4 per u32 word (N a multiple of 4)
override EPILOGUE: u32 = 0u;
override OUT_INT8: u32 = 0u;

// Both GELUs as the tanh form (gelu_tanh.wgsl). For GELU (tanh) that is the same function; for
// GELU (erf) it is FasterTransformer's approximation in its INT8 kernels, within 4.8e-4 of erf GELU
// (worst near x = -2.7), a twentieth of an int8 step wherever the next GEMM's input range exceeds
// 1.2. The erf form it replaced (Abramowitz & Stegun 7.1.26: a division, an exp and nine more
// operations) made fc1 the slowest INT8 GEMM per operation.
// vitstream:include gelu_tanh.wgsl

fn activate(v: f32) -> f32 {
  if (EPILOGUE == 1u || EPILOGUE == 2u) { return geluTanh(v); }
  return v;
}

// quantize4 for mode 2 outputs.
// vitstream:include int8_pack.wgsl
