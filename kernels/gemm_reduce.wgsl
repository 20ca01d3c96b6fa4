// Split-K pass 2: C[M,N] = epilogue(sum over splits of the f32 partial products + bias).
// The partials come from the GEMM kernels with PARTIAL = 1 (workspace [splits, M, N]). One
// thread per 4 consecutive outputs (N % 4 == 0): vec4 reads of every split, bias and C.
// Workgroups may be spread over x and y (spread() in source.ts); the index is rebuilt here.
alias T = f32; // vitstream:element-type
// vitstream:include lib/epilogue.wgsl

// vitstream:params (struct Params, declared in src/engine/kernels/gemm.ts)

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> part: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> bias: array<vec4<T>>;
@group(0) @binding(3) var<storage, read_write> c: array<vec4<T>>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let N4 = params.N / 4u;
  let plane = params.M * N4;
  let q = gid.y * groups.x * 256u + gid.x;
  if (q >= plane) { return; }
  var s = part[q];
  for (var z = 1u; z < params.splits; z++) { s += part[z * plane + q]; }
  let bv = vec4<f32>(bias[q % N4]);
  var p = vec4<f32>();
  if (EPILOGUE == 3u) { p = vec4<f32>(c[q]); }
  c[q] = vec4<T>(vec4<f32>(
    applyEpilogue(s.x, bv.x, p.x), applyEpilogue(s.y, bv.y, p.y),
    applyEpilogue(s.z, bv.z, p.z), applyEpilogue(s.w, bv.w, p.w)));
}
