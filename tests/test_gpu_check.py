"""``biggait gpu-check`` on the CPU with --quick: every section runs and the JSON / table come out.
(The acceptance numbers need a CUDA GPU: docs/performance.md.)"""

from __future__ import annotations

import json

import pytest

from biggait import cli
from biggait.gpu_check import check_golden


def test_quick_run_writes_every_section(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("biggait.gpu_check.check_golden", lambda dev, d, amp: {"skipped": "tested below"})
    monkeypatch.setattr("biggait.gpu_check_biggergait.check_golden", lambda dev, d: {"skipped": "tested below"})
    out = tmp_path / "gpu_check.json"
    assert cli.main(["gpu-check", "--quick", "--device", "cpu", "--steps", "1", "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    assert {"golden", "train", "eval", "gpu_claim", "versions", "passed"} <= res.keys()
    assert res["train"]["frames_per_step"] == 2 * 2 * 4 and res["train"]["iters_per_s"] > 0
    assert res["train"]["projected_hours_40k"] == pytest.approx(40000 * res["train"]["seconds_per_iter"] / 3600)
    assert res["eval"]["extract_frames_per_s"] > 0 and res["eval"]["ccpg_protocol_seconds"] > 0
    assert res["gpu_claim"]["skipped"] == "not a CUDA run"
    bg = res["biggergait"]["train"]  # one AMP step of the 12-group / 12-head BiggerGait at --quick shapes
    assert bg["passed"] and bg["batch"] == [2, 2, 2] and bg["estimated_memory_gib"] > 0
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


def test_biggergait_golden_forward_passes_and_a_corrupted_golden_fails(tmp_path):
    """The BiggerGait step's golden forward (run here on the CPU, as on the GPU), on one small case."""
    import shutil

    import numpy as np
    import torch

    from biggait.gpu_check_biggergait import check_golden as bg_golden
    from biggait.parity.golden import default_golden_dir

    src = default_golden_dir() / "biggergait"
    if not (src / "manifest.json").is_file():
        pytest.skip(f"no BiggerGait goldens at {src}")
    case = "fwd_default_n2s5.npz"
    res = bg_golden(torch.device("cpu"), src, only=(case,))
    assert res["passed"] and list(res["cases"]) == [case] and res["cases"][case]["max_abs_diff"] <= res["atol"]
    bad = tmp_path / "biggergait"
    shutil.copytree(src, bad)
    with np.load(src / case) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["embeddings"] = arrays["embeddings"] + 1e-3
    np.savez(bad / case, **arrays)
    assert not bg_golden(torch.device("cpu"), bad, only=(case,))["passed"]


def test_the_memory_estimate_says_what_fits_on_one_80_gb_gpu():
    from biggait.models.biggergait_memory import gpus_needed, step_gib

    shape = dict(groups=12, width=384, depth=12)  # the released BiggerGait-S, 448x224
    params = (120_149_952, 21_727_104)  # its trainable and upstream parameters
    assert step_gib(960, *params, **shape) == pytest.approx(119.0, abs=0.5)  # 8 x 4 x 30 frames: too many
    assert gpus_needed(960, *params, **shape) == 2 and step_gib(480, *params, **shape) < 0.9 * 74.5
    fewer = dict(groups=6, width=384, depth=12, layers_per_group=2)  # BiggerGait*: half the groups
    assert step_gib(960, *params, **fewer) < step_gib(960, *params, **shape)
