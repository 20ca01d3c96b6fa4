// Epilogue shared by the INT8 GEMMs (`// vitstream:include epilogue_int8.wgsl`): dequantise the
// int32 sum (acc · aScale · wScale[n]), add the bias, then GELU or a residual add; mode 2 kernels
// then quantise the result for the next GEMM. Kept apart from epilogue.wgsl so that the FP16
// kernels can change without moving the INT8 numerics.
//   EPILOGUE  0: bias   1: bias + GELU (erf)   2: bias + GELU (tanh)   3: bias + residual
//   OUT_INT8  0: f16 output   1: int8 output, 4 per u32 word (N a multiple of 4)
override EPILOGUE: u32 = 0u;
override OUT_INT8: u32 = 0u;

// Abramowitz & Stegun 7.1.26: |error| < 1.5e-7, far below an int8 step.
fn erfApprox(x: f32) -> f32 {
  let z = abs(x);
  let t = 1.0 / (1.0 + 0.3275911 * z);
  let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  return sign(x) * (1.0 - poly * exp(-z * z));
}

fn activate(v: f32) -> f32 {
  switch EPILOGUE {
    case 1u: { return 0.5 * v * (1.0 + erfApprox(v * 0.7071067811865476)); }
    case 2u: {
      // Clamped: some drivers build tanh from exp and return NaN for large arguments.
      let u = clamp(0.7978845608028654 * (v + 0.044715 * v * v * v), -15.0, 15.0);
      return 0.5 * v * (1.0 + tanh(u));
    }
    default: { return v; }
  }
}

// quantize4 for mode 2 outputs.
// vitstream:include int8_pack.wgsl
