"""BiggerGait golden parity through `biggait selfcheck`: manifest-driven, JSON records, a corrupted array fails."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from biggait.cli import main
from biggait.config import BiggerGaitConfig, ModelConfig
from biggait.models.biggergait import BiggerGait
from tests.biggergait_golden import biggergait_dir, full_parity  # noqa: F401 (fixture)

torch.set_num_threads(2)


def _folder(src: Path, dst: Path, case_kind: str, weights: str, corrupt: str | None = None) -> Path:
    """A copy of the golden folder holding one case of ``case_kind`` / ``weights``, every file under a name the
    code cannot know (links to the originals); ``corrupt`` = an array of that case shifted by 1e-3 at one entry."""
    manifest = json.loads((src / "manifest.json").read_text())
    case = next(c for c in manifest["cases"] if c["kind"] == case_kind and c["weights"] == weights and not c.get("seqL"))
    dst.mkdir()
    if (src / "meta.json").is_file():  # the full-width parameter counts
        (dst / "meta.json").symlink_to(src / "meta.json")
    renames = {}
    for key, w in manifest["weights"].items():
        for field in ("file", "backbone_from", "mask_branch_file"):
            if w.get(field):
                if w[field] not in renames:
                    renames[w[field]] = f"weights_{len(renames)}{Path(w[field]).suffix}"
                    (dst / renames[w[field]]).symlink_to(src / w[field])
                w[field] = renames[w[field]]
    new_case = "renamed_case.npz"
    if corrupt is None:
        (dst / new_case).symlink_to(src / case["file"])
    else:
        with np.load(src / case["file"]) as z:
            arrays = {k: z[k] for k in z.files}
        arrays[corrupt] = arrays[corrupt].copy()
        arrays[corrupt].reshape(-1)[7] += 1e-3
        np.savez(dst / new_case, **arrays)
    manifest["cases"] = [{**case, "file": new_case}]
    (dst / "manifest.json").write_text(json.dumps(manifest))
    return dst


def test_selfcheck_runs_the_manifest_and_fails_on_a_corrupted_array(biggergait_dir, tmp_path):
    good = _folder(biggergait_dir, tmp_path / "good", "forward", "default")
    out = tmp_path / "good.json"
    assert main(["selfcheck", "--golden-dir", str(good), "--json", str(out)]) == 0
    records = json.loads(out.read_text())
    assert records and all(set(r) >= {"case", "array", "max_abs_diff", "atol", "rtol", "passed"} for r in records)
    arrays = {r["array"] for r in records if r["case"] == "renamed_case.npz"}
    assert {"embeddings", "logits", "bnneck_feat", "hidden_states_tokens", "joint_ln_tokens", "mask_32x16",
            "pos_embed_used", "pos_embed_scale_factor_plus_0_1", "trunk_sample", "humanspace_stage_sum"} <= arrays
    assert all(r["passed"] for r in records), [r for r in records if not r["passed"]]
    emb = next(r for r in records if r["array"] == "embeddings")
    assert emb["max_abs_diff"] < emb["atol"] == 2e-6
    counts = {r["array"]: r for r in records if r["case"] == "param_counts_full_width"}
    assert counts["default.total"]["passed"] and counts["group.total"]["passed"]

    bad = _folder(biggergait_dir, tmp_path / "bad", "forward", "default", corrupt="embeddings")
    out_bad = tmp_path / "bad.json"
    assert main(["selfcheck", "--golden-dir", str(bad), "--json", str(out_bad)]) != 0
    failed = [(r["case"], r["array"]) for r in json.loads(out_bad.read_text()) if not r["passed"]]
    assert failed == [("renamed_case.npz", "embeddings")]


def test_selfcheck_refuses_a_manifest_case_whose_file_is_missing(biggergait_dir, tmp_path):
    d = _folder(biggergait_dir, tmp_path / "d", "forward", "group")
    (d / "renamed_case.npz").unlink()
    assert main(["selfcheck", "--golden-dir", str(d)]) == 2


@pytest.mark.parametrize("lpg, heads, total, trainable", [(1, 12, 142_208_450, 120_149_952),
                                                          (2, 2, 42_833_890, 20_775_392),
                                                          (1, 2, 42_853_570, 20_795_072),
                                                          (1, 1, 32_918_082, 10_859_584)])
def test_full_width_parameter_counts(lpg, heads, total, trainable):
    cfg = ModelConfig(arch="biggergait", biggergait=BiggerGaitConfig(layers_per_group=lpg, heads=heads))
    model = BiggerGait(cfg, 100)
    assert model.reported_num_params() == total
    assert sum(p.numel() for p in model.trainable_parameters()) == trainable


@full_parity
def test_every_public_golden_case_passes(biggergait_dir):
    from biggait.parity.selfcheck import run_checks

    results = run_checks(biggergait_dir)
    cases = {r.case for r in results}
    manifest = json.loads((biggergait_dir / "manifest.json").read_text())
    assert {c["file"] for c in manifest["cases"]} <= cases
    failed = [f"{r.case}:{r.name} {r.max_abs_diff:.3e} > {r.tolerance:.1e} {r.note}" for r in results if not r.passed]
    assert not failed, failed
