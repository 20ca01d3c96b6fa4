// Per-tensor symmetric quantisation between float activations (T: f16 or f32) and packed int8
// (4 per u32 word, element i of a word in bits 8i..8i+7, the byte order of a little-endian
// int8 array). `quantize` feeds an INT8 GEMM whose producer cannot write int8 itself (mode 1,
// and the attention output in mode 2); `dequantize` is the inverse, for checks and debugging.
alias T = f32; // vitstream:element-type

// vitstream:params (struct Params, declared in src/engine/kernels/quantize.ts)

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<T>;
@group(0) @binding(2) var<storage, read_write> dst: array<u32>;
@group(0) @binding(3) var<storage, read> packed: array<u32>;
@group(0) @binding(4) var<storage, read_write> unpacked: array<T>;

const WG = 256u;

fn quantizeOne(x: f32) -> u32 {
  let q = i32(clamp(round(x * params.invScale), -127.0, 127.0));
  return bitcast<u32>(q) & 0xffu;
}

// Grid-stride over words: big activations need more workgroups than one dispatch dimension holds.
@compute @workgroup_size(WG)
fn quantize(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let words = (params.count + 3u) / 4u;
  let stride = nwg.x * nwg.y * WG;
  for (var w = gid.x + gid.y * nwg.x * WG; w < words; w += stride) {
    var word = 0u;
    for (var i = 0u; i < 4u; i++) {
      let e = w * 4u + i;
      if (e < params.count) { word |= quantizeOne(f32(src[e])) << (8u * i); }
    }
    dst[w] = word;
  }
}

@compute @workgroup_size(WG)
fn dequantize(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let stride = nwg.x * nwg.y * WG;
  for (var e = gid.x + gid.y * nwg.x * WG; e < params.count; e += stride) {
    // Shift the byte to the top, then an arithmetic shift back sign-extends it.
    let q = bitcast<i32>(packed[e / 4u] << (24u - 8u * (e % 4u))) >> 24u;
    unpacked[e] = T(f32(q) * params.scale);
  }
}
