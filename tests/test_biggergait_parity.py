"""BiggerGait golden parity through `biggait selfcheck`: manifest-driven, JSON records, a corrupted array fails."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from biggait.cli import main
from biggait.config import BiggerGaitConfig, ModelConfig
from biggait.models.biggergait import BiggerGait
from tests.biggergait_golden import full_parity, golden_folder

torch.set_num_threads(2)


@pytest.fixture(scope="module")
def biggergait_dir() -> Path:
    return golden_folder()


def _folder(src: Path, dst: Path, case_kind: str, weights: str, corrupt: str | None = None) -> Path:
    """A copy of the golden folder holding one case of ``case_kind`` / ``weights``, every file under a name the
    code cannot know (links to the originals); ``corrupt`` = an array of that case shifted by 1e-3 at one entry."""
    manifest = json.loads((src / "manifest.json").read_text())
    case = next(
        c for c in manifest["cases"] if c["kind"] == case_kind and c["weights"] == weights and not c.get("seqL")
    )
    dst.mkdir()
    if (src / "meta.json").is_file():  # the full-width parameter counts
        (dst / "meta.json").symlink_to(src / "meta.json")
    renames = {}
    for w in manifest["weights"].values():
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
    assert {
        "embeddings",
        "logits",
        "bnneck_feat",
        "hidden_states_tokens",
        "joint_ln_tokens",
        "mask_32x16",
        "pos_embed_used",
        "pos_embed_scale_factor_plus_0_1",
        "trunk_sample",
        "humanspace_stage_sum",
    } <= arrays
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


@pytest.mark.parametrize(
    "lpg, heads, total, trainable",
    [
        (1, 12, 142_208_450, 120_149_952),
        (2, 2, 42_833_890, 20_775_392),
        (1, 2, 42_853_570, 20_795_072),
        (1, 1, 32_918_082, 10_859_584),
    ],
)
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


def test_pos_embed_switch_is_what_tells_the_transformers_versions_apart(biggergait_dir):
    """The golden's installed positional embedding is the ``size`` form; the ``scale_factor`` switch gives the
    other golden array (0.36 away), so either setting is checked against the reference."""
    import dataclasses

    from biggait.parity import biggergait_golden as bg

    manifest = bg.read_manifest(biggergait_dir)
    case = next(c for c in manifest["cases"] if c["kind"] == "forward" and c["weights"] == "default")
    with np.load(biggergait_dir / case["file"]) as z:
        used, other = z["pos_embed_used"], z["pos_embed_scale_factor_plus_0_1"]
    model = bg.load_case_model(biggergait_dir, manifest, case)
    np.testing.assert_allclose(model.lvm.vit.pos_embed[0].detach().numpy(), used, atol=1e-5, rtol=0)
    cfg = model.cfg
    old = dataclasses.replace(
        cfg, biggergait=dataclasses.replace(cfg.biggergait, pos_embed_interpolation="scale_factor")
    )
    twin = BiggerGait(old, cfg.num_classes)
    twin.load_state_dict(model.state_dict(), strict=False)  # every tensor but the resampled positions
    from biggait.models.biggergait_weights import backbone_of, load_backbone

    load_backbone(twin, backbone_of(bg._state(str(biggergait_dir / manifest["weights"]["group"]["file"]))), "group")
    ours = twin.lvm.vit.pos_embed[0].detach().numpy()
    np.testing.assert_allclose(ours, other, atol=1e-5, rtol=0)
    assert np.abs(ours - used).max() > 0.3


@full_parity
def test_the_training_golden_catches_an_eval_mode_mask_head(biggergait_dir, monkeypatch):
    """With the frozen mask head kept in eval mode (the switch off), step 1 no longer matches the release."""
    import dataclasses

    from biggait.parity import biggergait_golden as bg
    from biggait.parity.biggergait_train_checks import check_train_steps

    real = bg.case_model_config

    def eval_mask(manifest, case):
        cfg = real(manifest, case)
        return dataclasses.replace(cfg, biggergait=dataclasses.replace(cfg.biggergait, mask_bn_follows_mode=False))

    monkeypatch.setattr(bg, "case_model_config", eval_mask)
    manifest = bg.read_manifest(biggergait_dir)
    case = next(c for c in manifest["cases"] if c["kind"] == "train_steps")
    failed = {r.name for r in check_train_steps(biggergait_dir, manifest, case, steps=1) if not r.passed}
    assert "mask_32x16" in failed and "step1.buffer.Mask_Branch.bn_s.running_mean" in failed
