"""Validate a dataset tree against its preset and partition (``biggait data check``).

Every pickle is opened with the restricted unpickler and checked like the loaders would: dtype,
shape, equal modality lengths, non-empty sequences, aligned silhouettes, the preset's frame
aspect and one frame size for the whole dataset. Partition ids missing on disk are problems;
gaps in the (type, camera) coverage of an id are reported as warnings, since real datasets have them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from biggait.data.dataset import convert_arrays, load_partition, scan_tree
from biggait.data.pickles import load_array
from biggait.datasets import DatasetPreset, get_preset
from biggait.errors import DataError
from biggait.progress import progress_bar

__all__ = ["CheckReport", "check_tree", "format_report"]


_MAX_LISTED = 20  # warnings of one kind listed individually before summarising


@dataclass
class CheckReport:
    """Outcome of :func:`check_tree`. ``problems`` make the check fail; ``warnings`` do not."""

    root: Path
    preset: str
    partition: Path | None
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # split -> {"ids": n, "sequences": n, "frames": n}; splits: train, test (with a partition) or all
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    types: Counter = field(default_factory=Counter)  # type -> sequences
    views: Counter = field(default_factory=Counter)  # view -> sequences
    frame_sizes: Counter = field(default_factory=Counter)  # (H, W) -> sequences

    @property
    def ok(self) -> bool:
        return not self.problems


def _split_of(partition: dict[str, list[str]] | None) -> dict[str, str]:
    if partition is None:
        return {}
    split = {i: "train" for i in partition["TRAIN_SET"]}
    split.update({i: "test" for i in partition["TEST_SET"]})
    return split


def _check_partition(report: CheckReport, root: Path, part: dict, partition, split: dict[str, str]) -> None:
    """Partition problems: ids in both lists, listed ids missing on disk; ids on disk in no list (a warning)."""
    both = sorted(set(part["TRAIN_SET"]) & set(part["TEST_SET"]))
    report.problems += [f"{partition}: id {i!r} is in both TRAIN_SET and TEST_SET" for i in both]
    on_disk = {p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")}
    report.problems += [
        f"{root / i}: id {i!r} is in the partition but not on disk" for i in sorted(set(split) - on_disk)
    ]
    extra = sorted(on_disk - set(split))
    if extra:
        report.warnings.append(
            f"{root}: {len(extra)} ids on disk are in no partition list (e.g. {', '.join(extra[:5])})"
        )


def _check_consistency(
    report: CheckReport, root: Path, pre: DatasetPreset, size_example: dict, combos: dict[str, set]
) -> None:
    """Across sequences: one frame size, types the protocol knows, every id with every type/camera folder."""
    if len(report.frame_sizes) > 1:
        sizes = ", ".join(
            f"{h}x{w} ({n} seqs, e.g. {size_example[(h, w)]})" for (h, w), n in report.frame_sizes.items()
        )
        report.problems.append(f"{root}: sequences have different frame sizes: {sizes}; expected one size")
    if pre.types:
        unknown = sorted(set(report.types) - set(pre.types))
        if unknown:
            report.warnings.append(
                f"{root}: types unknown to the {pre.name} protocol: {', '.join(unknown)} "
                f"(expected: {', '.join(pre.types)})"
            )
    every = set().union(*combos.values()) if combos else set()
    gaps = [(i, sorted(every - c)) for i, c in sorted(combos.items()) if every - c]
    for i, missing in gaps[:_MAX_LISTED]:
        listed = ", ".join(f"{t}/{v}" for t, v in missing[:6]) + (" ..." if len(missing) > 6 else "")
        report.warnings.append(f"{root / i}: missing {len(missing)} of {len(every)} type/camera folders ({listed})")
    if len(gaps) > _MAX_LISTED:
        report.warnings.append(f"{root}: {len(gaps) - _MAX_LISTED} more ids with missing type/camera folders")


def check_tree(
    root: str | Path, preset: str | DatasetPreset, partition: str | Path | None = None, progress: bool = True
) -> CheckReport:
    """Open and check every sequence under ``root``; see the module docstring for what is checked."""
    root, pre = Path(root), get_preset(preset)
    if not root.is_dir():
        raise DataError(f"{root}: dataset root not found (expected <root>/<id>/<type>/<view>/*.pkl)")
    part = load_partition(partition) if partition else None
    report = CheckReport(root, pre.name, Path(partition) if partition else None)
    records, problems, skipped = scan_tree(root, pre, None, ("rgb", "ratios"), optional=("sils",))
    if not records and not skipped and not problems:  # nothing to check is not a pass
        raise DataError(
            f"{root}: no sequences found (expected <root>/<id>/<type>/<view>/*.pkl for the {pre.name} preset)"
        )
    report.problems += problems
    report.problems += [f"{f}: empty sequence folder (no .pkl files)" for f in skipped]

    split = _split_of(part)
    if part is not None:
        _check_partition(report, root, part, partition, split)

    seen: dict[str, set[str]] = {}  # split -> ids
    seqs: Counter = Counter()
    frames: Counter = Counter()
    combos: dict[str, set[tuple[str, str]]] = {}
    size_example: dict[tuple[int, int], Path] = {}
    for rec in progress_bar(records, desc=f"check {pre.name}", unit="seq", disable=not progress):
        # Coverage counts folders, readable or not, by camera (CCPG folder suffixes vary).
        combos.setdefault(rec.id, set()).add((rec.type, pre.camera(rec.view)))
        try:
            raw = {m: load_array(p) for m, p in rec.files.items()}
            arrays = convert_arrays(pre, raw, rec.files)
        except DataError as exc:
            report.problems.append(str(exc))
            continue
        h, w = arrays["rgb"].shape[2:]
        if abs(w / h - pre.frame_aspect) > 1e-6:
            report.problems.append(
                f"{rec.files['rgb']}: frames {h}x{w} (H x W), expected W/H = "
                f"{pre.frame_aspect:g} for the {pre.name} preset"
            )
        s = split.get(rec.id, "other") if part is not None else "all"
        seen.setdefault(s, set()).add(rec.id)
        seqs[s] += 1
        frames[s] += len(arrays["ratios"])
        report.types[rec.type] += 1
        report.views[rec.view] += 1
        report.frame_sizes[(h, w)] += 1
        size_example.setdefault((h, w), rec.files["rgb"])

    _check_consistency(report, root, pre, size_example, combos)

    for s in sorted(seqs, key=["train", "test", "other", "all"].index):
        report.counts[s] = {"ids": len(seen[s]), "sequences": seqs[s], "frames": frames[s]}
    return report


def format_report(report: CheckReport) -> list[str]:
    """The report as printable lines: counts, types, views, then warnings and problems."""
    where = f" (partition {report.partition})" if report.partition else ""
    lines = [
        f"{report.preset} dataset at {report.root}{where}",
        f"{'split':<6} {'ids':>6} {'sequences':>10} {'frames':>12}",
    ]
    for s, c in report.counts.items():
        lines.append(f"{s:<6} {c['ids']:>6} {c['sequences']:>10} {c['frames']:>12}")
    lines.append(f"types ({len(report.types)}): " + ", ".join(f"{t} ({n})" for t, n in sorted(report.types.items())))
    lines.append(f"views ({len(report.views)}): " + ", ".join(f"{v} ({n})" for v, n in sorted(report.views.items())))
    lines.append("frame size: " + ", ".join(f"3x{h}x{w}" for h, w in sorted(report.frame_sizes)))
    lines += [f"warning: {w}" for w in report.warnings]
    lines += [f"problem: {p}" for p in report.problems]
    lines.append(f"{len(report.problems)} problem(s), {len(report.warnings)} warning(s)")
    return lines
