"""``biggait gpu-check`` on the CPU with --quick: every section runs and the JSON / table come out.
(The acceptance numbers need a CUDA GPU: docs/performance.md.)"""

from __future__ import annotations

import json

import pytest

from biggait import cli
from biggait.gpu_check import check_golden


def test_quick_run_writes_every_section(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("biggait.gpu_check.check_golden", lambda dev, d, amp: {"skipped": "tested below"})
    out = tmp_path / "gpu_check.json"
    assert cli.main(["gpu-check", "--quick", "--device", "cpu", "--steps", "1", "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    assert {"golden", "train", "eval", "gpu_claim", "versions", "passed"} <= res.keys()
    assert res["train"]["frames_per_step"] == 2 * 2 * 4 and res["train"]["iters_per_s"] > 0
    assert res["train"]["projected_hours_40k"] == pytest.approx(40000 * res["train"]["seconds_per_iter"] / 3600)
    assert res["eval"]["extract_frames_per_s"] > 0 and res["eval"]["ccpg_protocol_seconds"] > 0
    assert res["gpu_claim"]["skipped"] == "not a CUDA run"
    text = capsys.readouterr().out
    assert "--quick: not the acceptance shapes" in text and "train step 2x2x4" in text and "PASSED" in text


def test_acceptance_needs_cuda(capsys):
    assert cli.main(["gpu-check", "--device", "cpu"]) == 2
    assert "the acceptance check runs on a CUDA GPU" in capsys.readouterr().err


@pytest.mark.slow
def test_golden_section_on_cpu_passes_fp32_and_reports_autocast(golden_dir, golden_weights):
    import torch

    res = check_golden(torch.device("cpu"), golden_dir, torch.bfloat16)
    assert res["passed"] and len(res["fp32"]) == 3
    assert set(res["autocast"]) == set(res["fp32"])  # bf16 diffs reported for every case
    assert all(v == v for c in res["autocast"].values() for v in c.values())  # no NaN
