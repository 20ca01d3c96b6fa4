// Sum of one f32 per invocation over a workgroup of WG, the same value returned to all
// (`// vitstream:include lib/row_sum.wgsl` after WG and SUBGROUPS are declared). With subgroups:
// subgroupAdd, one partial per subgroup, two barriers; without: a tree in workgroup memory,
// log2(WG) + 1 barriers. Call from uniform control flow.
var<workgroup> partial: array<f32, WG>;

fn rowSum(v: f32, lid: u32, sg: u32, nsg: u32) -> f32 {
  // vitstream:if SUBGROUPS
  let s = subgroupAdd(v);
  if (subgroupElect()) { partial[sg] = s; }
  workgroupBarrier();
  var total = 0.0;
  for (var i = 0u; i < nsg; i++) { total += partial[i]; }
  // vitstream:else
  partial[lid] = v;
  workgroupBarrier();
  for (var w = WG / 2u; w > 0u; w >>= 1u) {
    if (lid < w) { partial[lid] += partial[lid + w]; }
    workgroupBarrier();
  }
  let total = partial[0];
  // vitstream:end
  // Every invocation has read the partials before the next call overwrites them.
  workgroupBarrier();
  return total;
}
