// Packed int8 activations, 4 per u32 word, element i in bits 8i..8i+7 (the byte order of a
// little-endian int8 array), for every kernel that reads or writes them
// (`// vitstream:include lib/int8_pack.wgsl`).

// Symmetric int8: round half to even, saturate at ±127 (never -128, so that negation stays
// exact). Without float-to-int conversions (slow on NVIDIA): past 1.5·2^23 the f32 step is 1, so
// adding it rounds the clamped value half to even, as WGSL round() does, and leaves the value's
// two's complement in the low byte of the sum's bits.
fn quantize4(v: vec4<f32>, invScale: f32) -> u32 {
  let f = clamp(v * invScale, vec4<f32>(-127.0), vec4<f32>(127.0)) + vec4<f32>(12582912.0);
  let b = bitcast<vec4<u32>>(f) & vec4<u32>(0xffu);
  return b.x | (b.y << 8u) | (b.z << 16u) | (b.w << 24u);
}

// The four int8 of a word, sign-extended: each byte shifted to the top, then arithmetically back.
fn unpack4(w: u32) -> vec4<i32> {
  return bitcast<vec4<i32>>(vec4<u32>(w << 24u, w << 16u, w << 8u, w)) >> vec4<u32>(24u);
}
