"""Parity of the evaluation protocols with the released evaluator's golden outputs.

For each ``eval_*.npz`` golden set (features stored fp16, cast exactly to float32) we run
:func:`biggait.evaluation.protocols.evaluate` and compare every number of the golden ``.json``
(exactly; mAP / mINP to 1e-12, far below their printed 3 decimals), the full distance matrix
``dist_full_euc`` (off the diagonal to 2e-6 relative, the self-distances, which are rounding residue
and differ by CPU, to 5e-3: :func:`biggait.parity.golden.compare_distances`), and the reference's
printed transcript, regenerated from our tables in its print format, line by line against
``eval_*_stdout.txt``. The tolerances live in :mod:`biggait.parity.tolerances`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from biggait.evaluation.distance import pairwise_distance
from biggait.evaluation.protocols import evaluate
from biggait.evaluation.results import EvalResult
from biggait.parity.golden import CheckResult, compare, compare_distances, compare_exact
from biggait.parity.tolerances import METRIC_ATOL

REFERENCE_NAMES = {"Umbrella": "Umberalla"}  # our condition name -> the reference's spelling
CCPG_ORDER = ("CL", "UP", "DN", "BG")


def _fmt_array(values: list[float]) -> str:
    """A float array as the reference prints it (numpy with the '{:0.2f}' format)."""
    return np.array2string(np.asarray(values), formatter={"float_kind": "{:0.2f}".format})


def ccpg_transcript(res: EvalResult) -> list[str]:
    """The lines the released ``evaluate_CCPG`` prints, rebuilt from our result."""
    lines = []
    for c in CCPG_ORDER:
        info = res.details["conditions"][c]
        lines.append(
            str(
                (
                    "gallery length",
                    info["n_gallery"],
                    info["gallery_types"],
                    "probe length",
                    info["n_probe"],
                    info["probe_types"],
                )
            )
        )
        if info["n_gallery"] < 50:
            lines.append(f"Note: number of gallery samples is quite small, got {info['n_gallery']}")
    reid, gait = res.details["reid"], res.details["gait"]

    def line(vals: list[float]) -> str:
        return ",\t".join(f"{c}: {v:.3f}" for c, v in zip(CCPG_ORDER, vals))

    for title, key in (("Rank-1", "rank1"), ("mAP", "mAP"), ("mINP", "mINP")):
        lines.append(f"==={title} (Exclude identical-view cases for Person Re-Identification)===")
        lines.append(
            line([np.float32(reid[c][key]) * 100 if key == "rank1" else reid[c][key] * 100 for c in CCPG_ORDER])
        )
    lines.append("===Rank-1 (Include identical-view cases)===")
    lines.append(line([gait[c]["rank1_include_identical_view"] for c in CCPG_ORDER]))
    lines.append("===Rank-1 (Exclude identical-view cases)===")
    lines.append(line([gait[c]["exclude_identical_view_mean"][0] for c in CCPG_ORDER]))
    lines.append("===Rank-1 of each angle (Exclude identical-view cases)===")
    lines += [f"{c}: {_fmt_array(gait[c]['rank1_exclude_identical_view_per_view'])}" for c in CCPG_ORDER]
    return lines


def indoor_transcript(res: EvalResult, num_rank: int) -> list[str]:
    """The lines the released ``evaluate_indoor_dataset`` prints, rebuilt from our result."""
    gait = res.details["gait"]
    lines = ["===Rank-1 (Exclude identical-view cases)==="]
    lines += [
        f"{REFERENCE_NAMES.get(c, c)}@R1: {_fmt_array(g['rank1_exclude_identical_view_per_view'])}"
        for c, g in gait.items()
    ]
    for k in range(num_rank):
        lines.append(
            "".join(
                f"{REFERENCE_NAMES.get(c, c)}@R{k + 1}: {g['exclude_identical_view_mean'][k]:.2f}%\t"
                for c, g in gait.items()
            )
        )
    return lines


def _transcript_check(case: str, ours: list[str], ref_file: Path) -> CheckResult:
    ref = ref_file.read_text().splitlines()
    same = ours == ref
    note = (
        ""
        if same
        else next(
            (
                f"line {i + 1}: {a!r} != {b!r}"
                for i, (a, b) in enumerate(zip(ours + [""] * len(ref), ref + [""] * len(ours)))
                if a != b
            ),
            "",
        )
    )
    return CheckResult(case, "stdout_transcript", 0.0 if same else float("inf"), 0.0, same, note)


def _load(golden_dir: Path, stem: str) -> tuple[dict, dict]:
    npz = np.load(golden_dir / f"{stem}.npz")
    data = {k: npz[k] for k in npz.files}
    data["features"] = data["features"].astype(np.float32)  # exact fp16 -> fp32 cast
    return data, json.loads((golden_dir / f"{stem}.json").read_text())


def check_ccpg(golden_dir: Path, weights: Path | None = None) -> list[CheckResult]:
    """CCPG: distance matrix, ReID (rank-1, CMC, mAP, mINP), gait per-view tables, transcript."""
    case = "eval_ccpg.npz"
    data, ref = _load(golden_dir, "eval_ccpg")
    out = compare_distances(
        case, "dist_full_euc", pairwise_distance(data["features"], data["features"]), data["dist_full_euc"]
    )
    res = evaluate("ccpg", data["features"], data["labels"], data["types"], data["views"], metric="euc")
    out.append(compare_exact(case, "view_list", np.array(res.details["view_list"]), np.array(ref["view_list"])))
    for c in CCPG_ORDER:
        r_ref, r_our = ref["reid_exclude_same_id_same_view"][c], res.details["reid"][c]
        out.append(compare_exact(case, f"reid.{c}.rank1", r_our["rank1"], r_ref["rank1"]))
        out.append(compare_exact(case, f"reid.{c}.cmc", np.array(r_our["cmc"]), np.array(r_ref["cmc"])))
        out.append(compare(case, f"reid.{c}.mAP", r_our["mAP"], r_ref["mAP"], atol=METRIC_ATOL))
        out.append(compare(case, f"reid.{c}.mINP", r_our["mINP"], r_ref["mINP"], atol=METRIC_ATOL))
        g = res.details["gait"][c]
        idx = list(ref["conditions"]).index(c)
        exact = {  # name -> (ours, the golden's)
            "acc_rank1to5_percent": (g["acc_percent"], ref["acc_rank1to5_percent"][idx]),
            "rank1_include_identical_view": (g["rank1_include_identical_view"], ref["rank1_include_identical_view"][c]),
            "rank1_exclude_identical_view": (
                g["exclude_identical_view_mean"][0],
                ref["rank1_exclude_identical_view"][c],
            ),
            "rank1_exclude_identical_view_per_view": (
                g["rank1_exclude_identical_view_per_view"],
                ref["rank1_exclude_identical_view_per_view"][c],
            ),
        }
        out += [compare_exact(case, f"gait.{c}.{k}", ours, theirs) for k, (ours, theirs) in exact.items()]
    out.append(_transcript_check(case, ccpg_transcript(res), golden_dir / "eval_ccpg_stdout.txt"))
    return out


def _check_indoor(golden_dir: Path, stem: str, protocol: str) -> list[CheckResult]:
    case = f"{stem}.npz"
    data, ref = _load(golden_dir, stem)
    out = []
    if "dist_full_euc" in data:
        out += compare_distances(
            case, "dist_full_euc", pairwise_distance(data["features"], data["features"]), data["dist_full_euc"]
        )
    res = evaluate(protocol, data["features"], data["labels"], data["types"], data["views"], metric="euc")
    out.append(compare_exact(case, "view_list", np.array(res.details["view_list"]), np.array(ref["view_list"])))
    for c, g in res.details["gait"].items():
        rc = REFERENCE_NAMES.get(c, c)
        exact = {  # name -> (ours, the golden's)
            f"{rc}.acc_percent": (g["acc_percent"], ref["acc_percent"][rc]),
            f"{rc}.exclude_identical_view_mean": (
                g["exclude_identical_view_mean"],
                ref["exclude_identical_view_mean"][rc],
            ),
            f"{rc}.rank1_exclude_identical_view_per_view": (
                g["rank1_exclude_identical_view_per_view"],
                ref["rank1_exclude_identical_view_per_view"][rc],
            ),
            f"returned.{rc}@R1": (
                g["exclude_identical_view_mean"][0],
                ref["returned"][f"scalar/test_accuracy/{rc}@R1"],
            ),
        }
        out += [compare_exact(case, k, ours, theirs) for k, (ours, theirs) in exact.items()]
    out.append(_transcript_check(case, indoor_transcript(res, int(ref["num_rank"])), golden_dir / f"{stem}_stdout.txt"))
    return out


def check_casiab(golden_dir: Path, weights: Path | None = None) -> list[CheckResult]:
    """CASIA-B: per view-pair rank-1, per-view and mean (identical views excluded), transcript."""
    return _check_indoor(golden_dir, "eval_casiab", "casiab")


def check_sustech1k(golden_dir: Path, weights: Path | None = None) -> list[CheckResult]:
    """SUSTech1K: substring-matched conditions, ranks 1..5 per view pair and means, transcript."""
    return _check_indoor(golden_dir, "eval_sustech1k", "sustech1k")


CHECKS: dict[str, Callable[[Path, Path | None], list[CheckResult]]] = {
    "eval_ccpg.npz": check_ccpg,
    "eval_casiab.npz": check_casiab,
    "eval_sustech1k.npz": check_sustech1k,
}
