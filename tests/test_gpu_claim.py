"""GPU claiming: least-used free GPU, lock files exclude other jobs, CPU fallback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from biggait.gpu_claim import GpuInfo, child_env, claim_gpu, parse_nvidia_smi

SMI = "0, 30000, 81559, 95\n1, 500, 81559, 0\n2, 1200, 81559, 3\n3, [N/A], 81559, 0\n"


def fake(gpus: list[GpuInfo]):
    return lambda: gpus


def test_parse_nvidia_smi() -> None:
    gpus = parse_nvidia_smi(SMI)
    assert [g.index for g in gpus] == [0, 1, 2]  # the unparsable line is skipped
    assert gpus[0].used_fraction == pytest.approx(30000 / 81559)


def test_claims_least_used_then_next_and_skips_busy(tmp_path: Path) -> None:
    gpus = fake(parse_nvidia_smi(SMI) + [GpuInfo(4, 70000, 81559, 10)])  # GPU 4: memory mostly used
    first = claim_gpu(tmp_path, gpus=gpus)
    second = claim_gpu(tmp_path, gpus=gpus)
    third = claim_gpu(tmp_path, gpus=gpus)
    try:
        assert (first[0], second[0], third[0]) == (1, 2, 0)
        assert (tmp_path / "gpu1.lock").read_text().strip() == str(os.getpid())
        with pytest.raises(TimeoutError, match="no free GPU"):
            claim_gpu(tmp_path, gpus=gpus, wait_s=0.01, poll_s=0.01)  # 4 is busy, 0-2 locked
    finally:
        for c in (first, second, third):
            os.close(c[1])
    again = claim_gpu(tmp_path, gpus=gpus)  # closing the descriptor released the lock
    assert again[0] == 1
    os.close(again[1])


def test_no_gpu_means_cpu(tmp_path: Path) -> None:
    assert claim_gpu(tmp_path, gpus=fake([])) is None
    assert child_env(None, {"A": "1"}) == {"A": "1", "CUDA_VISIBLE_DEVICES": ""}
    assert child_env(3, {})["CUDA_VISIBLE_DEVICES"] == "3"


def test_wrapper_execs_command_on_cpu(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "biggait.gpu_claim", "--gpus", "0", "--lock-dir", str(tmp_path), "--",
           sys.executable, "-c", "import os; print(repr(os.environ['CUDA_VISIBLE_DEVICES'])); raise SystemExit(7)"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert out.returncode == 7 and out.stdout.strip() == "''"  # exit status of the command itself
    bad = subprocess.run(cmd[:7] + ["/nonexistent/cmd"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 127 and "cannot run" in bad.stderr
