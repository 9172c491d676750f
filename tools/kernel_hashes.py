"""sha256 (10 hex digits) of common CPU ops' outputs, to see which ISA knob changes which op.

    python tools/kernel_hashes.py                      # native kernels, 1 thread
    MKL_CBWR=COMPATIBLE python tools/kernel_hashes.py  # one knob; NO_MKLDNN=1 switches oneDNN off; NT=2 threads
(docs/workflow.md, "Reproducibility across CPUs")
"""

import hashlib
import json
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

if os.environ.get("NO_MKLDNN"):
    torch.backends.mkldnn.enabled = False
torch.set_num_threads(int(os.environ.get("NT", "1")))
g = torch.Generator().manual_seed(0)


def r(*s):
    return torch.randn(*s, generator=g)


def h(t):
    return hashlib.sha256(t.detach().contiguous().numpy().tobytes()).hexdigest()[:10]


out = {}
a, b = r(257, 191), r(191, 123)
out["matmul"] = h(a @ b)
lin = nn.Linear(191, 123)
torch.manual_seed(0)
lin.reset_parameters()
out["linear"] = h(lin(a))
x = r(4, 6, 129, 32)
out["sdpa"] = h(F.scaled_dot_product_attention(x, x * 0.5, x))
out["layernorm"] = h(F.layer_norm(r(64, 384), (384,)))
out["softmax"] = h(torch.softmax(r(64, 385), -1))
out["gelu"] = h(F.gelu(r(64, 385)))
c = nn.Conv2d(16, 32, 3, padding=1)
torch.manual_seed(0)
c.reset_parameters()
xi = r(
    8,
    16,
    32,
    22,
).requires_grad_()
y = c(xi)
out["conv2d"] = h(y)
y.square().sum().backward()
out["conv2d_wgrad"] = h(c.weight.grad)
out["conv2d_igrad"] = h(xi.grad)
bn = nn.BatchNorm2d(32)
out["batchnorm"] = h(bn(y.detach()))
out["sum"] = h(r(100003).sum())
out["cdist"] = h(torch.cdist(a[:50], a[50:120]))
print(json.dumps(out))
