"""The paper-scale path at the paper's shapes, end to end on a CPU: SynthGait rendered at the real
datasets' stored frame sizes (CCPG 256x128 pre-padded), ``snakemake --configfile config/paper.yaml``
with its paths pointed at that tree and at a DINOv2-S file in Meta's layout, the full-width BigGait-S
at 448x224 with a few iterations and a small P x K: train -> evaluate -> the CCPG table. A shape,
dtype or path error of the paper scale shows up here, before anyone spends GPU hours."""

from __future__ import annotations

import csv
import json
import os
import subprocess
from pathlib import Path

import pytest
import torch
import yaml

from biggait.data.pickles import load_array
from biggait.models.weights import read_weights
from tests.ci_dag import BIN, REPO

pytestmark = [pytest.mark.slow, pytest.mark.dag]


@pytest.fixture(scope="module")
def tree(tmp_path_factory, golden_dir, golden_weights) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("paper_shapes")
    data = base / "synthgait"
    subprocess.run(
        [
            str(BIN / "biggait"),
            "synth",
            "--out",
            str(data),
            "--scale",
            "paper_shapes",
            "--domains",
            "ccpg",
            "--no-progress",
            "--workers",
            "2",
        ],
        check=True,
        capture_output=True,
    )
    # A DINOv2-S file in Meta's layout: the golden OpenGait checkpoint's backbone (seeded random weights).
    raw = read_weights(golden_weights, "golden weights")
    sd = raw.get("model", raw)
    meta = {k[len("backbone.") :]: v.float() for k, v in sd.items() if k.startswith("backbone.")}
    ckpt = base / "dinov2_vits14_pretrain.pth"
    torch.save(meta, ckpt)
    return {"base": base, "data": data, "ckpt": ckpt}


def test_stored_frames_have_the_real_sizes(tree):
    rgb = next((tree["data"] / "ccpg").rglob("*-aligned-rgbs.pkl"))
    assert load_array(rgb).shape[1:] == (3, 256, 128)


def test_paper_config_trains_evaluates_and_tables_at_448x224(tree):
    results = tree["base"] / "results"
    overlay = {  # a second --configfile, merged over config/paper.yaml
        "results": str(results),
        "tables": ["ccpg"],
        "experiments": ["biggait_ccpg"],
        "gpus_per_job": 0,
        "roots": {"ccpg": str(tree["data"] / "ccpg")},
        "partitions": {"ccpg": str(tree["data"] / "ccpg.json")},
        "lvm_checkpoints": {"vits14": str(tree["ckpt"])},
        "threads": {"train": 2, "evaluate": 2},
        "figures": {"maps_experiments": [], "heatmap_evaluations": []},
        "set": [
            "train.total_iters=2",
            "train.milestones=[1]",
            "train.save_every=1",
            "train.log_every=1",
            "data.batch_p=2",
            "data.batch_k=2",
            "data.frames_per_seq=2",
            "data.num_workers=0",
            "data.test_max_frames=2",
            "eval.bootstrap=20",
            "train.device=cpu",
        ],
    }
    cfg = tree["base"] / "overlay.yaml"
    cfg.write_text(yaml.safe_dump(overlay))
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    run = subprocess.run(
        [str(BIN / "snakemake"), "--cores", "2", "table_ccpg", "--configfile", "config/paper.yaml", str(cfg)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    resolved = (results / "runs" / "biggait_ccpg" / "seed0" / "config.yaml").read_text()
    assert "image_size: 224" in resolved and "lvm_tiny: false" in resolved and "scale: paper" in resolved
    with (results / "tables" / "ccpg.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    ours = [r for r in rows if r.get("source") == "ours" and r.get("method", "").startswith("BigGait")]
    assert ours, rows[:3]
    metrics = json.loads((results / "eval" / "biggait_ccpg" / "seed0" / "ccpg" / "metrics.json").read_text())
    assert metrics["num_sequences"] == 3 * 7 * 2  # every test sequence of the tree went through
