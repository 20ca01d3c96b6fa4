// Pooling for the head: the class token (row 0 of each image) or the mean over all tokens.
alias T = f32; // vitstream:element-type

// vitstream:params (struct Params, declared in src/engine/kernels/pool.ts)

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<T>;         // [N * T, D]
@group(0) @binding(2) var<storage, read_write> pooled: array<T>; // [N, D]

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i >= params.count * params.hidden) { return; }
  let d = i % params.hidden;
  let n = i / params.hidden;
  let base = n * params.tokens * params.hidden + d;
  if (params.mean == 1u) {
    var s = 0.0;
    for (var t = 0u; t < params.tokens; t++) { s += f32(x[base + t * params.hidden]); }
    pooled[i] = T(s / f32(params.tokens));
  } else {
    pooled[i] = x[base];
  }
}
