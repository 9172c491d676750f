"""Reproducible CPU kernels (biggait.cpu_kernels): pinned results do not depend on the ISA MKL may use.

A stand-in for another CPU on this one: ``MKL_ENABLE_INSTRUCTIONS=AVX2`` caps MKL's dispatch as an
AVX2-only CPU would. With the kernels pinned, a small training computation (matmul, attention,
LayerNorm, convolution, their gradients) must give the same bits either way; with the native kernels the
mode must be reported as native and oneDNN left on.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from biggait import cpu_kernels
from biggait.errors import ConfigError

SCRIPT = r"""
import hashlib, json, os, sys
from biggait import cpu_kernels
mode = cpu_kernels.requested_mode()
if mode == cpu_kernels.REPRODUCIBLE:
    cpu_kernels.pin(mode)
import torch, torch.nn as nn, torch.nn.functional as F
cpu_kernels.apply_torch_flags()
torch.set_num_threads(1)
torch.manual_seed(0)
conv, lin, ln = nn.Conv2d(4, 8, 3, padding=1), nn.Linear(48, 48), nn.LayerNorm(48)
x = torch.randn(4, 4, 16, 12, requires_grad=True)
t = lin(ln(conv(x).flatten(2)[..., :48]))
y = F.scaled_dot_product_attention(t, t, t).sum() + (t @ t.transpose(1, 2)).square().mean()
y.backward()
h = hashlib.sha256(b"".join(g.numpy().tobytes() for g in (x.grad, conv.weight.grad, lin.weight.grad))).hexdigest()
print(json.dumps({"hash": h, **cpu_kernels.describe()}))
"""


def _run(**env: str) -> dict:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in (*cpu_kernels.REPRODUCIBLE_ENV, cpu_kernels.MODE_ENV, "MKL_ENABLE_INSTRUCTIONS")
    }
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], env={**clean, **env}, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def test_pinned_kernels_do_not_depend_on_mkl_dispatch() -> None:
    pinned = _run(BIGGAIT_CPU_KERNELS="reproducible")
    capped = _run(BIGGAIT_CPU_KERNELS="reproducible", MKL_ENABLE_INSTRUCTIONS="AVX2")
    assert pinned["mode"] == "reproducible" and pinned["MKL_CBWR"] == "COMPATIBLE" and pinned["onednn"] == "off"
    assert pinned["aten_capability"] == "AVX2"
    assert pinned["hash"] == capped["hash"]


def test_native_is_the_default() -> None:
    native = _run()
    assert native["mode"] == "native" and native["onednn"] == "on" and native["MKL_CBWR"] == ""


def test_bad_mode_is_one_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(cpu_kernels.MODE_ENV, "fast")
    with pytest.raises(ConfigError, match="BIGGAIT_CPU_KERNELS='fast': expected reproducible or native"):
        cpu_kernels.requested_mode()
