"""Median time and parameter hash of 8 demo training steps (BigGait, GaitBase), one thread.

    python tools/demo_step_time.py                     # native kernels
    MKL_CBWR=COMPATIBLE ATEN_CPU_CAPABILITY=avx2 NO_MKLDNN=1 python tools/demo_step_time.py
(docs/workflow.md, "Reproducibility across CPUs")
"""

import hashlib
import json
import os
import time

import torch

from biggait.config import load_experiment
from biggait.models.biggait import build_model
from biggait.train.loop import train_step

if os.environ.get("NO_MKLDNN"):
    torch.backends.mkldnn.enabled = False
torch.set_num_threads(1)

res = {}
for name, over in (("biggait", None), ("gaitbase", "config/experiments/gaitbase_ccpg.yaml")):
    exp = load_experiment(over, scale="demo", overrides=["train.device=cpu"])
    n, s = exp.data.batch_p * exp.data.batch_k, exp.data.frames_per_seq
    g = torch.Generator().manual_seed(0)
    frames = torch.randn(n, s, 3, 64, 32, generator=g)
    ratios = torch.full((n, s), 0.45)
    frames = frames[:, :, :1].contiguous() if over else frames
    labels = torch.arange(exp.data.batch_p).repeat_interleave(exp.data.batch_k)
    torch.manual_seed(0)
    model = build_model(exp.model, 20, exp.loss)
    model.set_iteration(0)
    model.train()
    opt = torch.optim.SGD(model.trainable_parameters(), lr=exp.train.lr, momentum=0.9)
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    ts = []
    for _ in range(8):
        t = time.perf_counter()
        terms, _ = train_step(model, opt, scaler, frames, ratios, labels, exp.loss)
        ts.append(time.perf_counter() - t)
    h = hashlib.sha256(b"".join(p.detach().numpy().tobytes() for p in model.parameters())).hexdigest()[:10]
    res[name] = {
        "step_ms": round(1000 * sorted(ts[2:])[len(ts[2:]) // 2], 1),
        "hash": h,
        "loss": float(terms["total"].detach()),
    }
print(json.dumps(res))
