// Packed int8 to f16 for kernels that stage int8 activations into f16 tiles
// (`// vitstream:include lib/int8_to_f16.wgsl`; the includer enables f16).
// The four int8 of a word as f16 without integer-to-float conversions (a slow instruction on
// NVIDIA, four per word): each byte, offset by 128 (x ^ 0x80), becomes the low mantissa bits of
// the f16 1024 (0x6400), where the step is 1, and 1152 comes off again, exactly.
fn int8ToF16(w: u32) -> vec4<f16> {
  let u = w ^ 0x80808080u;
  let even = bitcast<vec2<f16>>((u & 0x00ff00ffu) | 0x64006400u) - vec2<f16>(1152.0);
  let odd = bitcast<vec2<f16>>(((u >> 8u) & 0x00ff00ffu) | 0x64006400u) - vec2<f16>(1152.0);
  return vec4<f16>(even.x, odd.x, even.y, odd.y);
}
