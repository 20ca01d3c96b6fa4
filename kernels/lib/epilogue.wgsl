// Shared GEMM epilogue: bias, then optionally GELU or a residual add. Included by the GEMM
// kernels (`// vitstream:include lib/epilogue.wgsl`); EPILOGUE is an override constant so each
// variant compiles to straight-line code.
//   0: bias   1: bias + GELU (erf)   2: bias + GELU (tanh)   3: bias + residual (out += ...)
override EPILOGUE: u32 = 0u;

// Abramowitz & Stegun 7.1.26: |error| < 1.5e-7, far below what f32 logits can show.
fn erfApprox(x: f32) -> f32 {
  let z = abs(x);
  let t = 1.0 / (1.0 + 0.3275911 * z);
  let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  return sign(x) * (1.0 - poly * exp(-z * z));
}

fn geluErf(x: f32) -> f32 {
  return 0.5 * x * (1.0 + erfApprox(x * 0.7071067811865476));
}

// vitstream:include gelu_tanh.wgsl

fn applyEpilogue(acc: f32, biasValue: f32, previous: f32) -> f32 {
  let v = acc + biasValue;
  switch EPILOGUE {
    case 1u: { return geluErf(v); }
    case 2u: { return geluTanh(v); }
    case 3u: { return v + previous; }
    default: { return v; }
  }
}
