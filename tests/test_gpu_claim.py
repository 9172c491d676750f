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
    assert child_env(None, {"A": "1"}) == {"A": "1", "CUDA_VISIBLE_DEVICES": ""}  # no device order for the CPU
    assert child_env(3, {})["CUDA_VISIBLE_DEVICES"] == "3"


def test_wrapper_execs_command_on_cpu(tmp_path: Path) -> None:
    cmd = [
        sys.executable,
        "-m",
        "biggait.gpu_claim",
        "--gpus",
        "0",
        "--lock-dir",
        str(tmp_path),
        "--",
        sys.executable,
        "-c",
        "import os; print(repr(os.environ['CUDA_VISIBLE_DEVICES'])); raise SystemExit(7)",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert out.returncode == 7 and out.stdout.strip() == "''"  # exit status of the command itself
    bad = subprocess.run(cmd[:7] + ["/nonexistent/cmd"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 127 and "cannot run" in bad.stderr


SMI_UUID = "0, GPU-aaaa-0000, 30000, 81559, 95\n1, GPU-bbbb-1111, 500, 81559, 0\n2, GPU-cccc-2222, 1200, 81559, 3\n"


def test_claim_stays_among_the_visible_devices(tmp_path: Path) -> None:
    gpus = fake(parse_nvidia_smi(SMI_UUID))
    assert parse_nvidia_smi(SMI_UUID)[1].uuid == "GPU-bbbb-1111"
    got = claim_gpu(tmp_path, gpus=gpus, visible="2,0")  # SLURM gave this job GPUs 2 and 0: 1 is not ours
    second = claim_gpu(tmp_path, gpus=gpus, visible="2,0")
    try:
        assert (got[0], second[0]) == (2, 0)
        with pytest.raises(TimeoutError):
            claim_gpu(tmp_path, gpus=gpus, visible="2,0", wait_s=0.01, poll_s=0.01)
    finally:
        os.close(got[1])
        os.close(second[1])
    by_uuid = claim_gpu(tmp_path, gpus=gpus, visible="GPU-cccc")  # a UUID prefix, as CUDA accepts
    assert by_uuid[0] == 2
    os.close(by_uuid[1])
    assert claim_gpu(tmp_path, gpus=gpus, visible="") is None  # no device for this job: the CPU
    mig = claim_gpu(tmp_path, gpus=gpus, visible="MIG-1234-abcd")
    assert mig[0] == "MIG-1234-abcd" and (tmp_path / "MIG-1234-abcd.lock").exists()
    os.close(mig[1])


def test_child_env_uses_pci_bus_order() -> None:
    env = child_env(3, {})
    assert env["CUDA_VISIBLE_DEVICES"] == "3" and env["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID"
    assert child_env("MIG-1234-abcd", {})["CUDA_VISIBLE_DEVICES"] == "MIG-1234-abcd"
