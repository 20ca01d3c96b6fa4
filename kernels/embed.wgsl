// Token assembly: [class token | patch embeddings] + position embedding, written into the
// residual stream. Without a class token (mean pooling) the patch rows are copied as they are.
alias T = f32; // vitstream:element-type

// vitstream:params (struct Params, declared in src/engine/kernels/embed.ts)

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> patchOut: array<T>;  // [N * numPatches, D]
@group(0) @binding(2) var<storage, read> cls: array<T>;       // [D]
@group(0) @binding(3) var<storage, read> pos: array<T>;       // [T, D]
@group(0) @binding(4) var<storage, read_write> x: array<T>;   // [N * T, D]

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let total = params.count * params.tokens * params.hidden;
  let stride = nwg.x * nwg.y * 256u;
  for (var i = gid.x + gid.y * nwg.x * 256u; i < total; i += stride) {
    let d = i % params.hidden;
    let t = (i / params.hidden) % params.tokens;
    let n = i / (params.hidden * params.tokens);
    var v: f32;
    if (params.hasClassToken == 1u) {
      if (t == 0u) {
        v = f32(cls[d]);
      } else {
        v = f32(patchOut[(n * params.numPatches + t - 1u) * params.hidden + d]);
      }
    } else {
      v = f32(patchOut[(n * params.numPatches + t) * params.hidden + d]);
    }
    x[i] = T(v + f32(pos[t * params.hidden + d]));
  }
}
