// The block GEMMs of ViT-B/16-384 at a batch size, for the GEMM timing scripts: name ->
// [M, N, K, epilogue, int8 output]. fc1q and qkvq are fc1 and qkv as INT8 mode 2 runs them (int8
// output, INT8 only; qkvq with int8 attention); fc1t is fc1 with the tanh GELU.
export function gemmShapes(batch) {
  const tokens = 577 * Number(batch);
  return {
    qkv: [tokens, 2304, 768, 'bias', false],
    proj: [tokens, 768, 768, 'bias-residual', false],
    fc1: [tokens, 3072, 768, 'bias-gelu-erf', false],
    fc2: [tokens, 768, 3072, 'bias-residual', false],
    fc1q: [tokens, 3072, 768, 'bias-gelu-erf', true],
    qkvq: [tokens, 2304, 768, 'bias', true],
    fc1t: [tokens, 3072, 768, 'bias-gelu-tanh', false],
  };
}
