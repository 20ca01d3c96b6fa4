// Preprocessing fused with im2col: frames in, the patch-embedding GEMM's A matrix out.
// Row r = n * numPatches + p (patch p in raster order), column k = (py * P + px) * 3 + c, the
// order of an RGB frame's bytes inside one patch, so that Google's HWIO kernel needs no permute.
// Normalisation (x / 255 - mean) / std happens here so the CPU never touches a float.
// from_yuv takes YUV 4:2:0 frames (NV12 or yuv420p, half the bytes of RGB) and converts them to RGB
// on the way, the same arithmetic as src/engine/yuv.ts. The layout is a param (one pipeline, a
// uniform branch); the colour comes per frame from `colors`, as streams of a batch differ.
alias T = f32; // vitstream:element-type

// vitstream:params (struct Params, declared in src/engine/kernels/preprocess.ts)

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> rgb: array<u32>;      // uint8 RGB [N, S, S, 3], 4 bytes a word
@group(0) @binding(2) var<storage, read> pixels: array<f32>;   // float32 [N, 3, S, S], already normalised
@group(0) @binding(3) var<storage, read_write> patches: array<T>;
@group(0) @binding(4) var<storage, read> yuv: array<u32>;      // uint8 YUV 4:2:0 [N, frameBytes], 4 bytes a word
// Per frame: (Y offset, Y scale, chroma scale, 0), (R from V, G from U, G from V, B from U).
@group(0) @binding(5) var<storage, read> colors: array<vec4<f32>>;

const WORKGROUP = 256u;

// Grid-stride loop: a 384x384 batch of 32 has 14M elements, more than one dispatch dimension allows.
fn forEachElement(gid: vec3<u32>, nwg: vec3<u32>) -> vec2<u32> {
  let total = params.count * params.imageSize * params.imageSize * 3u;
  return vec2<u32>(gid.x + gid.y * nwg.x * WORKGROUP, total);
}

fn patchCoords(i: u32) -> vec4<u32> {
  // returns (n, y, x, c) of patch element i
  let k = params.patchSize * params.patchSize * 3u;
  let row = i / k;
  let col = i % k;
  let np = params.grid * params.grid;
  let n = row / np;
  let p = row % np;
  let c = col % 3u;
  let pxy = col / 3u;
  let y = (p / params.grid) * params.patchSize + pxy / params.patchSize;
  let x = (p % params.grid) * params.patchSize + pxy % params.patchSize;
  return vec4<u32>(n, y, x, c);
}

@compute @workgroup_size(WORKGROUP)
fn from_rgb(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let range = forEachElement(gid, nwg);
  let stride = nwg.x * nwg.y * WORKGROUP;
  for (var i = range.x; i < range.y; i += stride) {
    let q = patchCoords(i);
    let byteIndex = ((q.x * params.imageSize + q.y) * params.imageSize + q.z) * 3u + q.w;
    let byte = (rgb[byteIndex >> 2u] >> ((byteIndex & 3u) * 8u)) & 0xffu;
    patches[i] = T((f32(byte) / 255.0 - params.mean[q.w]) * params.invStd[q.w]);
  }
}

@compute @workgroup_size(WORKGROUP)
fn from_pixels(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let range = forEachElement(gid, nwg);
  let stride = nwg.x * nwg.y * WORKGROUP;
  for (var i = range.x; i < range.y; i += stride) {
    let q = patchCoords(i);
    patches[i] = T(pixels[((q.x * 3u + q.w) * params.imageSize + q.y) * params.imageSize + q.z]);
  }
}

fn yuvByte(i: u32) -> f32 {
  return f32((yuv[i >> 2u] >> ((i & 3u) * 8u)) & 0xffu);
}

@compute @workgroup_size(WORKGROUP)
fn from_yuv(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let range = forEachElement(gid, nwg);
  let stride = nwg.x * nwg.y * WORKGROUP;
  let S = params.imageSize;
  let cs = (S + 1u) / 2u; // chroma side: ceil(S / 2)
  let frameBytes = S * S + 2u * cs * cs;
  for (var i = range.x; i < range.y; i += stride) {
    let q = patchCoords(i);
    let frame = q.x * frameBytes;
    // Replicated chroma: pixel (x, y) takes sample (x / 2, y / 2).
    let c = (q.y / 2u) * cs + q.z / 2u;
    var u: f32;
    var v: f32;
    if (params.interleaved != 0u) {
      u = yuvByte(frame + S * S + 2u * c);
      v = yuvByte(frame + S * S + 2u * c + 1u);
    } else {
      u = yuvByte(frame + S * S + c);
      v = yuvByte(frame + S * S + cs * cs + c);
    }
    let k = colors[2u * q.x];
    let m = colors[2u * q.x + 1u];
    let y = (yuvByte(frame + q.y * S + q.z) - k.x) * k.y;
    let un = (u - 128.0) * k.z;
    let vn = (v - 128.0) * k.z;
    let rgb = vec3<f32>(y + m.x * vn, y - m.y * un - m.z * vn, y + m.w * un);
    let x = clamp(rgb[q.w], 0.0, 1.0);
    patches[i] = T((x - params.mean[q.w]) * params.invStd[q.w]);
  }
}
