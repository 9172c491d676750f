"""SynthGait: determinism, on-disk formats, silhouette alignment, partitions, nuisance independence,
resume, CLI errors, preview and the difficulty property (clothes hurt appearance more than bags)."""

from __future__ import annotations

import fnmatch
import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from biggait.cli import main
from biggait.data.pickles import load_array
from biggait.datasets import get_preset
from biggait.errors import DataError
from biggait.synthgait.body import sample_identity, walk
from biggait.synthgait.domains import DOMAINS, DomainPlan, scale_plans
from biggait.synthgait.formats import offline_pad_and_resize
from biggait.synthgait.generator import SeqJob, SynthSpec, generate, plan_jobs, render_sequence, rng_for
from biggait.synthgait.preview import sequence_frames
from biggait.synthgait.proxy import ProxyRecord, features, rank1_table

TINY = scale_plans("tiny")
EXPECTED = {  # domain -> (rgb shape after T, ratio shape after T)
    "ccpg": ((3, 64, 32), ()),
    "casiab": ((3, 64, 64), ()),
    "sustech1k": ((64, 64, 3), (2,)),
}


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    """The tiny scale of all three domains, generated with two worker processes."""
    out = tmp_path_factory.mktemp("synth") / "tiny"
    counts = generate(out, SynthSpec(0, TINY), workers=2, progress=False)
    assert counts == {"written": len(plan_jobs(SynthSpec(0, TINY))), "skipped": 0}
    return out


def test_byte_identical_whatever_the_workers(tiny: Path, tmp_path: Path) -> None:
    generate(tmp_path, SynthSpec(0, {"ccpg": TINY["ccpg"]}), workers=1, progress=False)
    serial, parallel = _files(tmp_path / "ccpg"), _files(tiny / "ccpg")
    assert serial.keys() == parallel.keys() and len(serial) == 3 * len(plan_jobs(SynthSpec(0, {"ccpg": TINY["ccpg"]})))
    assert all(serial[k] == parallel[k] for k in serial)
    assert (tmp_path / "ccpg.json").read_bytes() == (tiny / "ccpg.json").read_bytes()


@pytest.mark.parametrize("domain", list(DOMAINS))
def test_layout_dtypes_and_shapes_follow_the_presets(tiny: Path, domain: str) -> None:
    preset, style, plan = get_preset(domain), DOMAINS[domain], TINY[domain]
    seqs = sorted(p for p in (tiny / domain).glob("*/*/*") if p.is_dir())
    assert len(seqs) == (plan.train_ids + plan.test_ids) * len(style.types) * len(plan.views)
    assert {p.parent.name for p in seqs} == set(style.types)
    for seq in seqs:
        names = [p.name for p in seq.iterdir()]
        assert len(names) == 3 and all(n.endswith(".pkl") for n in names)
        pick = {m: [n for n in names if fnmatch.fnmatch(n, preset.glob(m))] for m in ("rgb", "ratios", "sils")}
        assert all(len(v) == 1 for v in pick.values()), (seq, pick)
        rgb, ratios, sils = (load_array(seq / pick[m][0]) for m in ("rgb", "ratios", "sils"))
        T = plan.frames
        assert rgb.dtype == np.uint8 and rgb.shape == (T,) + EXPECTED[domain][0]
        assert ratios.dtype == np.float64 and ratios.shape == (T,) + EXPECTED[domain][1]
        assert sils.dtype == np.uint8 and set(np.unique(sils)) <= {0, 255} and (sils == 255).any()
        hw = rgb.shape[1:3] if domain == "sustech1k" else rgb.shape[2:]
        assert sils.shape == (T,) + hw
        if domain == "ccpg":
            assert re.fullmatch(r"\d\d_[12]", seq.name) and seq.name.split("_")[0] in plan.views
            # Pre-padded like the offline pad-and-resize: black outside the resized crop's columns.
            for t in range(T):
                rw = int(ratios[t] * 64)
                if rw < 30:
                    x0 = (32 - rw) // 2
                    assert not rgb[t, :, :, : x0 - 1].any() and not rgb[t, :, :, x0 + rw + 1 :].any()
        else:
            assert seq.name in plan.views
        if domain == "sustech1k":
            assert (ratios > 0).all() and (ratios[:, 0] > ratios[:, 1] * 0.8).all()  # (H, W), people are tall
        else:
            assert ((ratios > 0.1) & (ratios < 2.0)).all()


def test_the_project_reader_loads_every_domain(tiny: Path) -> None:
    from biggait.data.dataset import GaitDataset

    for domain, plan in TINY.items():
        ds = GaitDataset(tiny / domain, domain, tiny / f"{domain}.json", split="test", with_sils=True)
        assert len(ds.ids) == plan.test_ids
        item = ds.load(0)
        assert item["rgb"].shape[:2] == (plan.frames, 3) and item["ratios"].dtype == np.float32
        assert item["sils"].shape[1:] == item["rgb"].shape[2:]


def test_partitions_are_disjoint_and_cover_the_tree(tiny: Path) -> None:
    for domain, plan in TINY.items():
        part = json.loads((tiny / f"{domain}.json").read_text())
        train, test = set(part["TRAIN_SET"]), set(part["TEST_SET"])
        assert len(train) == plan.train_ids and len(test) == plan.test_ids and not train & test
        assert {p.name for p in (tiny / domain).iterdir() if p.is_dir()} == train | test
    # Identities are keyed by domain: the same id string is a different person in another domain.
    a, b = (sample_identity(rng_for(0, d, "001", "identity")) for d in ("ccpg", "casiab"))
    assert a != b


def test_silhouettes_cover_exactly_the_drawn_person() -> None:
    kernel = np.ones((3, 3), np.uint8)
    for domain, view, typ in (("casiab", "090", "bg-01"), ("ccpg", "04", "U0_D0"), ("sustech1k", "000", "04-cr")):
        job = next(j for j in plan_jobs(SynthSpec(0, {domain: TINY[domain]})) if j.view == view and j.type == typ)
        rgb_a, sil = sequence_frames(render_sequence(0, job))
        rgb_b, sil_b = sequence_frames(render_sequence(0, job, background_salt=1))
        assert np.array_equal(sil, sil_b)  # the background never changes the crop
        same = np.all(rgb_a == rgb_b, axis=-1)
        inner = np.stack([cv2.erode(s, kernel) > 0 for s in sil])  # away from resampled edges
        outer = np.stack([cv2.erode(255 - s, kernel) > 0 for s in sil]) & (rgb_a.max(-1) > 0)
        assert same[inner].mean() > 0.99, domain  # person pixels do not depend on the background
        assert (~same[outer]).mean() > 0.9, domain  # everything outside the silhouette is background


def test_nuisances_do_not_follow_identity() -> None:
    plan = DomainPlan(0, 3, 2, ("01",))
    jobs = {(j.id, j.type): j for j in plan_jobs(SynthSpec(0, {"ccpg": plan}))}
    info = {k: render_sequence(0, j).info for k, j in jobs.items()}
    for sid in ("000", "001", "002"):
        uppers = [info[sid, t]["upper"].c1 for t in ("U0_D0", "U1_D1", "U2_D2", "U3_D3")]
        assert len(set(uppers)) == 4  # four different upper garments per person
        assert info[sid, "U0_D0"]["upper"] == info[sid, "U0_D3"]["upper"] == info[sid, "U0_D0_BG"]["upper"]
        assert info[sid, "U0_D0"]["lower"] == info[sid, "U1_D0"]["lower"]
        assert info[sid, "U3_D3"]["lower"] == info[sid, "U0_D3"]["lower"]
        assert len({tuple(info[sid, t]["skin"]) for t in ("U0_D0", "U0_D0_BG", "U1_D1")}) == 3  # per sequence
    uf = [
        render_sequence(0, j).info
        for j in plan_jobs(SynthSpec(0, {"sustech1k": DomainPlan(0, 2, 2, ("000",), ("06-uf",))}))
    ]
    assert uf[0]["upper"] == uf[1]["upper"] and uf[0]["lower"] == uf[1]["lower"]  # everybody in uniform


def test_walker_keeps_a_foot_on_the_ground_and_is_periodic() -> None:
    ident = sample_identity(np.random.default_rng(3))
    phase = np.linspace(0, 2 * np.pi, 9)
    joints, caps = walk(ident, phase)
    lowest = np.min(
        [(caps.a - caps.radius[:, None, None])[..., 2], (caps.b - caps.radius[:, None, None])[..., 2]], (0, 1)
    )
    assert np.allclose(lowest, 0.0, atol=1e-9)
    assert np.allclose(joints["ankle_l"][0], joints["ankle_l"][-1]) and not np.allclose(
        joints["ankle_l"][0], joints["ankle_l"][4]
    )
    assert (joints["head"][:, 2] > 0.8 * ident.height).all()


def test_resume_skips_existing_sequences_and_rewrites_the_missing_one(tmp_path: Path) -> None:
    spec = SynthSpec(0, {"casiab": DomainPlan(2, 1, 3, ("090",), ("nm-01", "cl-01"))})
    assert generate(tmp_path, spec, workers=1, progress=False) == {"written": 6, "skipped": 0}
    before = _files(tmp_path / "casiab")
    victim = tmp_path / "casiab" / "002" / "cl-01" / "090"
    for p in victim.iterdir():
        p.unlink()
    victim.rmdir()
    (victim.parent / ".090.abc.tmp").mkdir()  # debris of an interrupted run
    assert generate(tmp_path, spec, workers=1, progress=False) == {"written": 1, "skipped": 5}
    assert _files(tmp_path / "casiab") == before
    with pytest.raises(DataError, match="casiab.synth.json"):
        generate(tmp_path, SynthSpec(1, spec.plans), workers=1, progress=False)


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["--domains", "ccpg,mars"], "unknown domain mars"),
        (["--scale", "huge"], "unknown SynthGait scale 'huge'"),
        (["--ids", "0"], "--ids"),
        (["--views", "casiab=045"], "unknown casiab view '045'"),
    ],
)
def test_bad_arguments_give_one_line_and_write_nothing(tmp_path: Path, capsys, argv: list[str], needle: str) -> None:
    out = tmp_path / "out"
    assert main(["synth", "--out", str(out), *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and needle in err[0]
    assert not out.exists()


def test_cli_preview_only_writes_a_contact_sheet(tmp_path: Path) -> None:
    assert (
        main(
            ["synth", "--out", str(tmp_path), "--scale", "tiny", "--domains", "ccpg", "--preview-only", "--frames", "4"]
        )
        == 0
    )
    sheet = cv2.imread(str(tmp_path / "preview_ccpg.png"))
    assert sheet is not None and sheet.shape[0] > 2 * 7 * 64 and sheet.std() > 20
    assert not (tmp_path / "ccpg").exists()


def test_clothing_hurts_appearance_much_more_than_bags() -> None:
    """Proxy check on 10 identities: colour histograms fail on CL but not BG; GEIs survive CL."""
    spec = SynthSpec(0, {"casiab": DomainPlan(0, 10, 8, ("090",), ("nm-01", "nm-05", "bg-01", "cl-01"))})
    records = []
    for job in plan_jobs(spec):
        colour, gei = features(*sequence_frames(render_sequence(0, job)))
        records.append(ProxyRecord(job.id, job.type, job.view, colour, gei))
    table = rank1_table(records, "casiab")
    col, gei = table["colour_hist"], table["gei"]
    assert col["NM"] >= 0.8 and col["BG"] >= 0.7 and col["CL"] <= 0.4
    assert col["BG"] - col["CL"] >= 0.4
    assert gei["CL"] - col["CL"] >= 0.3
    assert 0.1 < gei["BG"] <= 1.0 and 0.1 < gei["CL"] < 1.0  # silhouettes change too, less


def test_pad_and_resize_matches_the_released_preprocessing(golden_dir: Path) -> None:
    g = np.load(golden_dir / "preproc_pretreatment_rgb.npz")
    for i in range(7):
        ours = offline_pad_and_resize(g[f"crop_{i}"], 256)[..., ::-1].transpose(2, 0, 1)  # BGR crop -> RGB CHW
        assert np.array_equal(ours, g["aligned_rgbs"][i]), i


def test_job_keys_do_not_depend_on_the_plan() -> None:
    small = {(j.id, j.type, j.folder) for j in plan_jobs(SynthSpec(0, {"ccpg": DomainPlan(2, 1, 4, ("01",))}))}
    big = {(j.id, j.type, j.folder) for j in plan_jobs(SynthSpec(0, {"ccpg": DomainPlan(5, 3, 4, ("01", "02"))}))}
    assert small < big  # extending a plan keeps the existing sequences (and resumes into them)
    job = SeqJob("ccpg", "000", "U0_D0", "01", "01_1", 4)
    a, b = render_sequence(0, job).arrays, render_sequence(0, job).arrays
    assert all(np.array_equal(a[k], b[k]) for k in a)
