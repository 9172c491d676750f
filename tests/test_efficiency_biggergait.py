"""``biggait efficiency`` of BiggerGait: the released parameter counts and the paper's FLOPs per frame (fvcore's
multiply-adds, attention matmuls counted: 45.7 G / 29.8 G at 448x224), and the counter's pieces."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from biggait.cli import main
from biggait.config import load_experiment
from biggait.evaluation.efficiency import FvcoreExtras, count, throughput

# (layers per group, heads) -> golden README section 7 parameter counts (total, trainable) and the paper's
# FLOPs @448x224 (BiggerGait Table 2(d) / 2(b), DINOv2-S).
RELEASED = {
    (1, 12): (142_208_450, 120_149_952, 45.7),
    (2, 2): (42_833_890, 20_775_392, 29.8),
}


def biggergait(layers_per_group: int, heads: int, scale: str = "paper"):
    sets = ["model.arch=biggergait", f"model.biggergait.layers_per_group={layers_per_group}"]
    return load_experiment(None, scale=scale, overrides=[*sets, f"model.biggergait.heads={heads}"]).model


@pytest.mark.parametrize(("variant", "expected"), list(RELEASED.items()), ids=["12g12h", "6g2h"])
def test_full_width_counts_land_on_the_released_and_the_paper(variant, expected) -> None:
    total, trainable, paper_g = expected
    res = count(biggergait(*variant))
    assert res["total_params"] == total and res["trainable_params"] == trainable
    assert res["input_hw"] == [448, 224]
    # 12 blocks x 2 matmuls x 513 tokens^2 x 384 channels: what a module-based counter misses
    assert res["lvm_attention"] == pytest.approx(2 * 12 * 513**2 * 384 / 1e9, rel=1e-9)
    assert round(res["gmacs_per_frame"], 1) == paper_g
    parts = ("lvm", "lvm_attention", "mask", "humanspace", "heads", "elementwise")
    assert sum(res[k] for k in parts) == pytest.approx(res["gmacs_per_frame"], rel=1e-9)
    # without the attention matmuls the count would miss the paper by 2.4 G
    assert round(res["gmacs_per_frame"] - res["lvm_attention"], 1) != paper_g


def test_fvcore_extras_count_attention_and_norms() -> None:
    """The pieces fvcore adds to FlopCounterMode's: fused attention from its shapes, per-element norms."""
    q = torch.randn(2, 3, 5, 4)
    k = torch.randn(2, 3, 7, 4)
    ln, bn = nn.LayerNorm(4), nn.BatchNorm1d(4, affine=False).eval()
    up = torch.randn(1, 2, 3, 3)
    with torch.no_grad(), FvcoreExtras() as ex:
        torch.nn.functional.scaled_dot_product_attention(q, k, k)
        ln(q)
        bn(torch.randn(6, 4))
        torch.nn.functional.interpolate(up, scale_factor=2, mode="bilinear")
    assert ex.attention == pytest.approx(2 * 2 * 3 * 5 * 7 * 4 / 1e9)
    assert ex.elementwise == pytest.approx((5 * q.numel() + 1 * 24 + 4 * 2 * 6 * 6) / 1e9)


def test_demo_biggergait_efficiency_json_and_throughput(capsys) -> None:
    """The DAG's command on a demo BiggerGait: every column of the efficiency table, and a speed."""
    argv = ["efficiency", "--scale", "demo", "--json", "--set", "model.arch=biggergait"]
    assert main([*argv, "--set", "model.biggergait.heads=0"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["total_params"] > res["trainable_params"] > 0 and res["gmacs_per_frame"] > res["lvm_attention"] > 0
    speed = throughput(biggergait(1, 0, "demo"), frames=2, repeats=1, device="cpu")
    assert speed["frames_per_s"] > 0 and speed["device"] == "cpu"
    assert main([*argv[:3], "--set", "model.arch=biggergait", "--set", "model.biggergait.heads=2"]) == 0
    assert "fvcore's count as released" in capsys.readouterr().out


def test_efficiency_rows_in_one_process_write_what_each_command_prints(tmp_path, capsys) -> None:
    """`biggait efficiency ... --out A --and ... --out B` (the workflow's one job for the table's rows): each file
    holds what the run prints alone; every run is checked before the first writes."""
    runs = [
        ["--scale", "demo", "--json"],
        ["--scale", "demo", "--json", "--set", "model.arch=biggergait", "--set", "model.biggergait.heads=0"],
    ]
    alone = []
    for r in runs:
        assert main(["efficiency", *r]) == 0
        alone.append(json.loads(capsys.readouterr().out))
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    assert main(["efficiency", *runs[0], "--out", str(a), "--and", *runs[1], "--out", str(b)]) == 0
    assert [json.loads(a.read_text()), json.loads(b.read_text())] == alone
    assert alone[0]["total_params"] != alone[1]["total_params"]
    c = tmp_path / "c.json"
    bad = ["efficiency", *runs[0], "--out", str(c), "--and", *runs[1], "--foreground", "2", "--out", str(b)]
    assert main(bad) == 2 and not c.exists()
    assert "--foreground: expected a share in [0, 1], got 2.0" in capsys.readouterr().err
    assert main(["efficiency", *runs[0], "--out", str(c), "--and", *runs[1], "--out", str(c)]) == 2
    assert "given to two runs" in capsys.readouterr().err and not c.exists()
