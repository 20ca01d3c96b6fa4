"""cuBLAS / PyTorch SDPA timings of ViT-B/16-384's GEMM and attention shapes, the yardstick for
the WebGPU kernels (`vitstream tune`, bench/attention-timing.mjs). Usage: python3 bench/torch_gemm.py [batch]"""
import sys

import torch
import torch.nn.functional as F

batch = int(sys.argv[1]) if len(sys.argv) > 1 else 32
T, D, H, MLP = 577, 768, 12, 3072
M = batch * T


def timed(fn, iters=20):
    fn()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(iters):
        fn()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / iters


print(f"torch {torch.__version__} on {torch.cuda.get_device_name()} batch {batch}")
for name, n, k in [("qkv", 3 * D, D), ("proj", D, D), ("fc1", MLP, D), ("fc2", D, MLP)]:
    a = torch.randn(M, k, device="cuda", dtype=torch.float16)
    b = torch.randn(k, n, device="cuda", dtype=torch.float16)
    ms = timed(lambda: a @ b)
    print(f"  {name:5s} {M}x{n}x{k}: {ms:.3f} ms {2 * M * n * k / ms / 1e9:.1f} TFLOP/s")
q, kk, v = (torch.randn(batch, H, T, D // H, device="cuda", dtype=torch.float16) for _ in range(3))
ms = timed(lambda: F.scaled_dot_product_attention(q, kk, v))
print(f"  attention (SDPA) per layer: {ms:.3f} ms {4 * batch * H * T * T * (D // H) / ms / 1e9:.1f} TFLOP/s")
