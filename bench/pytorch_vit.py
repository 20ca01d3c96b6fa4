"""PyTorch baseline for `vitstream bench`: the same model and batch sizes, FP16 and FP32, eager.

Latency = median of N runs after warm-up, inputs already on the GPU (as in the issue's table),
plus a second figure that includes uploading uint8 frames and reading logits back, which is
what vitstream's numbers include. Run on the GPU machine: python3 bench/pytorch_vit.py.
"""
import argparse
import json
import statistics
import time

import timm
import torch

p = argparse.ArgumentParser()
p.add_argument("--model", default="vit_base_patch16_384")
p.add_argument("--batch", default="1,8,16,32")
p.add_argument("--iterations", type=int, default=50)
p.add_argument("--precision", default="fp32,fp16")
args = p.parse_args()

dev = torch.device("cuda")
model = timm.create_model(args.model, pretrained=False).eval().to(dev)
size = model.default_cfg["input_size"][-1]
rows = []
for prec in args.precision.split(","):
    dtype = torch.float16 if prec == "fp16" else torch.float32
    m = model.to(dtype)
    mean = torch.tensor([0.5, 0.5, 0.5], device=dev, dtype=dtype).view(1, 3, 1, 1)
    std = torch.tensor([0.5, 0.5, 0.5], device=dev, dtype=dtype).view(1, 3, 1, 1)
    for b in [int(x) for x in args.batch.split(",")]:
        x = torch.randn(b, 3, size, size, device=dev, dtype=dtype)
        frames = torch.randint(0, 255, (b, size, size, 3), dtype=torch.uint8).pin_memory()

        def on_gpu():
            with torch.inference_mode():
                m(x)

        def end_to_end():
            with torch.inference_mode():
                f = frames.to(dev, non_blocking=True).permute(0, 3, 1, 2).to(dtype) / 255
                m((f - mean) / std).float().cpu()

        res = {"precision": prec, "batch": b}
        for name, fn in (("gpu_ms", on_gpu), ("e2e_ms", end_to_end)):
            for _ in range(10):
                fn()
            torch.cuda.synchronize()
            ts = []
            for _ in range(args.iterations):
                t0 = time.perf_counter()
                fn()
                torch.cuda.synchronize()
                ts.append((time.perf_counter() - t0) * 1000)
            res[name] = statistics.median(ts)
        rows.append(res)
        print(f"pytorch eager {args.model} {prec} batch {b}: {res['gpu_ms']:.2f} ms (inputs on GPU), {res['e2e_ms']:.2f} ms (uint8 upload + readback)", flush=True)
print(json.dumps({"torch": torch.__version__, "timm": timm.__version__, "gpu": torch.cuda.get_device_name(0), "rows": rows}))
