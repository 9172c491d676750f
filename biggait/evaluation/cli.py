"""``biggait evaluate`` (test embeddings of a checkpoint, scored by the test dataset's protocol) and
``biggait efficiency`` (parameters, GFLOPs per frame and inference speed of a configured model).

    biggait evaluate --checkpoint RUN/model.pt --dataset ccpg --root DATA/ccpg \\
        [--partition DATA/ccpg.json] --out RESULTS/eval/EXP/seed0/ccpg [--device auto]
    biggait evaluate --checkpoint A/model.pt --out EVAL_A --checkpoint B/model.pt --out EVAL_B ...

Several ``--checkpoint`` / ``--out`` pairs are evaluated in one pass over the test set; models whose
frozen upstream is the same (same LVM weights and input geometry) share its forward, so each test
frame goes through the LVM once (the workflow evaluates every experiment of an upstream this way).

Writes into ``--out`` (each file atomically): ``embeddings.npz``, ``metrics.json``, the long
``metrics.csv`` (train_dataset, test_dataset, protocol, condition, metric, value, ci_low,
ci_high; percent) and ``view_matrices/<protocol>_<condition>_rank1.csv``. The protocol follows
``--dataset``; the train dataset comes from the checkpoint's experiment (cross-domain
evaluation is just another ``--dataset``). Where the test set has silhouettes, a BigGait model also
gets ``mask_iou`` (its GRE foreground) and ``upstream_probe`` (a linear probe of its own frozen
upstream's tokens for "person", :func:`biggait.evaluation.probe.probe_trained_upstream`: a random,
i.e. not loaded, upstream reads far below a pretrained one), unless ``--no-mask-iou``. Features are never recomputed when ``--out`` already
holds embeddings of the same checkpoint and test set, or with ``--from-embeddings FILE``.

    biggait efficiency [--experiment FILE] [--scale demo|paper] [--json] [--throughput]

    biggait probe-upstream --dataset ccpg --root DATA/ccpg --partition DATA/ccpg.json \\
        [--lvm-checkpoint FILE] [--scale demo] --out RESULTS/upstream/probe_pretrained.json

``probe-upstream``: a linear probe of the upstream's patch tokens for "person" against the test
split's silhouettes (:mod:`biggait.evaluation.probe`).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import logging
from pathlib import Path

from biggait.cli_paths import InputDir, InputFile, OutputDir, OutputFile
from biggait.config import EvalConfig, Experiment, experiment_from_dict, load_experiment, to_dict
from biggait.errors import ConfigError, EvaluationError
from biggait.io import read_json
from biggait.evaluation.extract import Embeddings, resolve_device
from biggait.evaluation.mask_quality import mask_iou_rows
from biggait.evaluation.metrics_files import METRICS_CSV_COLUMNS as CSV_COLUMNS
from biggait.evaluation.metrics_files import MetricRow, metrics_csv_text, write_metrics
from biggait.datasets import PROTOCOLS, get_protocol
from biggait.evaluation.protocols import evaluate

__all__ = ["COMMANDS", "CSV_COLUMNS", "MetricRow", "metrics_csv_text"]

logger = logging.getLogger(__name__)


# ---- biggait evaluate ---------------------------------------------------------------------------------

def add_evaluate_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of ``biggait evaluate``."""
    p.add_argument("--checkpoint", type=InputFile("checkpoint", "pt"), action="append", default=None,
                   help="model.pt of a run (or an OpenGait BigGait checkpoint); repeat it, each with its own "
                        "--out, to evaluate several models in one pass over the test set (models with the "
                        "same frozen upstream then share its forward)")
    p.add_argument("--dataset", required=True, help="test dataset preset = protocol: ccpg | casiab | sustech1k | ccgr_mini")
    p.add_argument("--root", type=InputDir("test dataset root"),
                   help="test dataset root <root>/<id>/<type>/<view>/*.pkl")
    p.add_argument("--partition", type=InputFile("partition", "json"), default=None,
                   help="partition JSON (TEST_SET; GALLERY_SET for CCGR-Mini)")
    p.add_argument("--out", type=OutputDir("output"), action="append", required=True,
                   help="output folder (one per --checkpoint, in the same order)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N (default: %(default)s)")
    p.add_argument("--from-embeddings", type=InputFile("embeddings", "npz"), default=None,
                   help="score saved embeddings.npz, no model run")
    p.add_argument("--train-dataset", default=None, help="label of the training set (default: the checkpoint's)")
    p.add_argument("--metric", choices=("euc", "cos"), default=None, help="distance (default: the experiment's)")
    p.add_argument("--bootstrap", type=int, default=None, help="identity resamples for rank-1 CIs (0 = off)")
    p.add_argument("--seed", type=int, default=None, help="bootstrap seed (default: the experiment's eval.seed)")
    p.add_argument("--test-max-frames", type=int, default=None, help="frames per test sequence (0 = preset's cap)")
    p.add_argument("--pack-frames", type=int, default=None,
                   help="run test sequences together up to this many frames per forward "
                        "(default: the experiment's eval.pack_frames; 0 = one sequence at a time)")
    p.add_argument("--no-mask-iou", action="store_true",
                   help="skip the foreground-mask IoU and the upstream probe against silhouettes")


def file_sha256(path: Path, chunk: int = 1 << 22) -> str:
    """sha256 of a file, streamed."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def checkpoint_experiment(path: Path) -> Experiment | None:
    """The experiment stored in one of our checkpoints (None for an OpenGait checkpoint)."""
    from biggait.models.weights import read_weights

    raw = read_weights(path)
    return experiment_from_dict(raw["experiment"], str(path)) if "experiment" in raw else None


def read_gallery_keys(partition: Path | None, protocol: str) -> set[str] | None:
    """CCGR-Mini's gallery list (``GALLERY_SET`` of the partition); None for other protocols (a given
    partition is still checked: a malformed file is an error, not ignored)."""
    if protocol != "ccgr_mini":
        if partition is not None:
            from biggait.data.dataset import load_partition

            load_partition(partition)
        return None
    if partition is None:
        raise EvaluationError("--dataset ccgr_mini: --partition is required (its GALLERY_SET lists the gallery)")
    raw = read_json(partition, "partition", EvaluationError)
    keys = raw.get("GALLERY_SET") if isinstance(raw, dict) else None
    if not isinstance(keys, list) or not keys:
        raise EvaluationError(f"{partition}: GALLERY_SET: expected a non-empty list of 'id-type-view' keys")
    return {str(k) for k in keys}


@dataclasses.dataclass
class _Job:
    """One model to evaluate: its checkpoint, output folder and experiment (None: OpenGait's)."""

    checkpoint: Path | None
    out: Path
    exp: Experiment | None
    embeddings: Embeddings | None = None


def _jobs(args: argparse.Namespace) -> list[_Job]:
    """Pair every --checkpoint with its --out (one clear error when they do not pair up)."""
    ckpts, outs = args.checkpoint or [], args.out
    if not ckpts:
        if args.from_embeddings is None:
            raise EvaluationError("give --checkpoint (to extract embeddings) or --from-embeddings FILE")
        if len(outs) != 1:
            raise EvaluationError(f"--from-embeddings: expected one --out, got {len(outs)}")
        return [_Job(None, outs[0], None)]
    if len(ckpts) != len(outs):
        raise EvaluationError(f"--checkpoint / --out: expected one --out per --checkpoint, got {len(ckpts)} "
                              f"checkpoints and {len(outs)} --out")
    if len(ckpts) > 1 and args.from_embeddings is not None:
        raise EvaluationError("--from-embeddings scores one model: give a single --checkpoint")
    if len(set(outs)) != len(outs):
        raise EvaluationError("--out: two checkpoints write into the same folder")
    for c in ckpts:
        if not c.is_file():
            raise EvaluationError(f"{c}: checkpoint not found")
    return [_Job(c, o, checkpoint_experiment(c)) for c, o in zip(ckpts, outs)]


def _fingerprint(args: argparse.Namespace, protocol: str, job: _Job) -> dict:
    return {"checkpoint": str(job.checkpoint.resolve()), "checkpoint_sha256": file_sha256(job.checkpoint),
            "test_dataset": protocol, "root": str(args.root.resolve()),
            "partition": str(args.partition.resolve()) if args.partition else "",
            "test_max_frames": args.test_max_frames}


def _meta(args: argparse.Namespace, protocol: str, job: _Job, fingerprint: dict) -> dict:
    exp = job.exp
    return {"checkpoint": str(job.checkpoint), "experiment": exp.name if exp is not None else "opengait_checkpoint",
            "train_dataset": args.train_dataset or (exp.data.dataset if exp else "unknown"), "test_dataset": protocol,
            "fingerprint": fingerprint}


def _saved(job: _Job, fingerprint: dict) -> Embeddings | None:
    """``OUT/embeddings.npz`` when it holds this checkpoint's features of this test set."""
    saved = job.out / "embeddings.npz"
    if not saved.is_file():
        return None
    try:
        old = Embeddings.load(saved)
    except EvaluationError as exc:
        logger.warning("re-extracting: %s", exc)
        return None
    if old.meta.get("fingerprint") != fingerprint:
        return None
    logger.info("%s matches the checkpoint and test set: not recomputing features", saved)
    return old


def _extract(args: argparse.Namespace, protocol: str, jobs: list[_Job]) -> None:
    """Fill ``job.embeddings`` of every job: saved ones are reused; the others are extracted, one
    pass over the test set per group of models that read it alike (frames cap, modality, packing),
    sharing the upstream's forward within a group where the models allow it."""
    from biggait.data.loader import make_test_loader
    from biggait.evaluation.extract import extract_shared, upstream_clusters
    from biggait.evaluation.probe import probe_trained_upstream
    from biggait.models.checkpoints import load_model

    device = resolve_device(args.device)
    groups: dict[tuple, list[tuple]] = {}
    for job in jobs:
        fingerprint = _fingerprint(args, protocol, job)
        job.embeddings = _saved(job, fingerprint)
        if job.embeddings is not None:
            continue
        model, exp = load_model(job.checkpoint, map_location=device)
        # How the test set is read is the trained model's (frames cap, modality, workers), unless the flags say.
        data = exp.data if args.test_max_frames is None else \
            dataclasses.replace(exp.data, test_max_frames=args.test_max_frames)
        ev = exp.eval if args.pack_frames is None else dataclasses.replace(exp.eval, pack_frames=args.pack_frames)
        exp = dataclasses.replace(exp, data=data, eval=ev)
        measure = not args.no_mask_iou and exp.model.arch == "biggait"
        groups.setdefault((exp.test_pass(), measure), []).append((job, _meta(args, protocol, job, fingerprint),
                                                                   model, exp))
    for (_, measure), members in groups.items():
        exp = members[0][3]
        loader = make_test_loader(exp.data, dataset=protocol, root=args.root, partition=args.partition,
                                  with_sils=measure)
        logger.info("extracting %d test sequences of %s on %s for %d model(s)", len(loader), protocol, device,
                    len(members))
        embs = extract_shared([m for _, _, m, _ in members], loader, device=device, autocast=exp.eval.autocast,
                              measure_masks=measure, pad_and_resize=[e.model.pad_and_resize for *_, e in members],
                              metas=[meta for _, meta, _, _ in members],
                              partial_paths=[j.out / ".embeddings.partial.npz" for j, *_ in members],
                              pack_frames=exp.eval.pack_frames)
        if measure and "sils" in loader.dataset.modalities:
            # The model's own upstream probed for "person", once per upstream (the clusters of models with
            # equal frozen upstreams that extraction shared).
            models = [m for _, _, m, _ in members]
            for cluster in upstream_clusters(models):
                exp = members[cluster[0]][3]
                logger.info("probing the upstream of %s on the test silhouettes", exp.name)
                iou = probe_trained_upstream(models[cluster[0]].lvm, exp.model, loader.dataset, progress=False)
                for i in cluster:
                    embs[i].meta["upstream_probe_iou"] = iou
        for (job, *_), emb in zip(members, embs):
            emb.save(job.out / "embeddings.npz")
            job.embeddings = emb


def _settings(args: argparse.Namespace, exp: Experiment | None) -> tuple[str, int, int]:
    """Distance metric, bootstrap resamples and seed: the flags, else the experiment's eval config."""
    ev = exp.eval if exp is not None else EvalConfig()
    bootstrap = ev.bootstrap if args.bootstrap is None else args.bootstrap
    if bootstrap < 0:
        raise EvaluationError(f"--bootstrap {bootstrap}: expected >= 0")
    return args.metric or ev.metric, bootstrap, ev.seed if args.seed is None else args.seed


def _score(args: argparse.Namespace, protocol: str, job: _Job, gallery_keys: set[str] | None) -> None:
    """Score one model's embeddings by the protocol and write its metrics files."""
    exp, emb = job.exp, job.embeddings
    metric, bootstrap, seed = _settings(args, exp)
    train_dataset = args.train_dataset or emb.meta.get("train_dataset") or (exp.data.dataset if exp else "unknown")
    result = evaluate(protocol, emb.features, emb.labels, emb.types, emb.views, metric=metric,
                      gallery_keys=gallery_keys, bootstrap=bootstrap, seed=seed)
    rows = list(result.rows)
    if emb.mask_intersection is not None and emb.mask_union is not None:
        rows += mask_iou_rows(emb.mask_intersection, emb.mask_union, emb.types, PROTOCOLS[protocol])
    if emb.meta.get("upstream_probe_iou") is not None:
        rows.append(MetricRow("upstream_probe", "all", "iou", float(emb.meta["upstream_probe_iou"]) * 100))
    info = {"train_dataset": train_dataset, "test_dataset": protocol,
            "experiment": emb.meta.get("experiment", exp.name if exp else ""),
            "checkpoint": emb.meta.get("checkpoint", str(job.checkpoint or "")),
            "metric": metric, "bootstrap": bootstrap, "seed": seed, "num_sequences": int(len(emb.labels)),
            "resolved_experiment": to_dict(exp) if exp is not None else None}  # the checkpoint's config
    write_metrics(job.out, result, rows, info)
    for r in rows:  # a short summary; the tables are the files
        if r.metric in ("rank1_exclude_identical_view", "rank1"):
            print(f"{protocol} {r.protocol:<4} {r.condition:<9} {r.metric:<28} {r.value:6.2f}")
    print(f"wrote {job.out / 'metrics.csv'}")


def run_evaluate(args: argparse.Namespace) -> int:
    """Entry point of ``biggait evaluate``."""
    from biggait.cpu_memory import keep_freed_memory

    protocol, _ = get_protocol(args.dataset)
    keep_freed_memory()  # no page faults for the big activations of feature extraction on CPU
    jobs = _jobs(args)
    for job in jobs:
        _settings(args, job.exp)  # bad flags fail before any extraction
    gallery_keys = read_gallery_keys(args.partition, protocol)
    if args.from_embeddings is not None:
        logger.info("scoring saved embeddings %s (no feature extraction)", args.from_embeddings)
        jobs[0].embeddings = Embeddings.load(args.from_embeddings)
    else:
        if args.root is None:
            raise EvaluationError("--root is required to extract embeddings")
        _extract(args, protocol, jobs)
    for job in jobs:
        _score(args, protocol, job, gallery_keys)
    return 0


# ---- biggait efficiency -------------------------------------------------------------------------------

def add_efficiency_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of ``biggait efficiency``."""
    from biggait.evaluation.efficiency import DEFAULT_FOREGROUND

    p.add_argument("--experiment", type=InputFile("experiment YAML", "yaml"), default=None,
                   help="experiment YAML (default: the released configuration)")
    p.add_argument("--scale", default=None, choices=["demo", "paper"], help="scale overlay (default: paper)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, e.g. model.lvm=vitb14 (repeatable)")
    p.add_argument("--num-classes", type=int, default=100, help="classifier size when model.num_classes is 0")
    p.add_argument("--foreground", type=float, default=DEFAULT_FOREGROUND,
                   help="share of map pixels selected as foreground (default %(default)s)")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.add_argument("--throughput", action="store_true",
                   help="also time inference (frames/s of one 16-frame sequence on --device)")
    p.add_argument("--device", default="auto", help="device for --throughput (default: cuda if available, else cpu)")


def run_efficiency(args: argparse.Namespace) -> int:
    """Entry point of ``biggait efficiency``."""
    from biggait.evaluation.efficiency import count, report_lines, throughput

    exp = load_experiment(args.experiment, scale=args.scale, overrides=args.overrides)
    if not 0.0 <= args.foreground <= 1.0:
        raise ConfigError(f"--foreground: expected a share in [0, 1], got {args.foreground}")
    res = count(exp.model, args.num_classes, args.foreground)
    if args.throughput:
        res.update(throughput(exp.model, args.num_classes, device=args.device))
    print(json.dumps(res, indent=2) if args.json else "\n".join(report_lines(exp.model, res)))
    return 0


# ---- biggait probe-upstream ---------------------------------------------------------------------------

def add_probe_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of ``biggait probe-upstream``."""
    from biggait.evaluation.probe import ProbeSettings

    d = ProbeSettings()
    p.add_argument("--lvm-checkpoint", type=InputFile("upstream checkpoint", "pt"), default=None,
                   help="upstream weights, Meta DINOv2 layout (default: the random ViT of the model config, --seed)")
    p.add_argument("--dataset", required=True, help="dataset preset with silhouettes: ccpg | casiab | sustech1k | ccgr_mini")
    p.add_argument("--root", type=InputDir("dataset root"), required=True,
                   help="dataset root <root>/<id>/<type>/<view>/*.pkl")
    p.add_argument("--partition", type=InputFile("partition", "json"), required=True,
                   help="partition JSON (its TEST_SET is probed)")
    p.add_argument("--scale", choices=("demo", "paper"), default="demo",
                   help="model config (variant, tiny, image size, patch, map size) from this scale (default %(default)s)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, e.g. model.lvm=vitb14 (repeatable)")
    p.add_argument("--every", type=int, default=d.every, help="every k-th frame of each test sequence (default %(default)s)")
    p.add_argument("--max-frames", type=int, default=d.max_frames, help="at most this many frames (default %(default)s)")
    p.add_argument("--seed", type=int, default=d.seed, help="initialisation seed of the random upstream (default %(default)s)")
    p.add_argument("--out", type=OutputFile("result JSON"), required=True, help="result JSON")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")


def run_probe(args: argparse.Namespace) -> int:
    """Entry point of ``biggait probe-upstream``: probe, then write the JSON (atomically)."""
    from biggait.data.dataset import GaitDataset
    from biggait.errors import CheckpointError
    from biggait.evaluation.probe import ProbeSettings, probe_upstream
    from biggait.io import write_json_atomic

    protocol, _ = get_protocol(args.dataset)
    exp = load_experiment(None, scale=args.scale, overrides=args.overrides)
    if args.lvm_checkpoint is not None and not args.lvm_checkpoint.is_file():
        raise CheckpointError(f"{args.lvm_checkpoint}: upstream checkpoint not found")
    settings = ProbeSettings(every=args.every, max_frames=args.max_frames, seed=args.seed)
    ds = GaitDataset(args.root, protocol, args.partition, split="test", with_sils=True)
    res = probe_upstream(ds, exp.model, args.lvm_checkpoint, settings, progress=not args.no_progress)
    res.update({"dataset": protocol, "root": str(args.root), "partition": str(args.partition), "scale": args.scale})
    write_json_atomic(args.out, res)
    iou = res["iou"]
    print(f"{res['upstream']} upstream, {res['frames']['eval']} frames scored: "
          + ", ".join(f"{k} IoU {v:.3f}" for k, v in iou.items()))
    print(f"wrote {args.out}")
    return 0


# command name -> (add_arguments, run); biggait.cli maps the names to this module.
COMMANDS = {
    "evaluate": (add_evaluate_arguments, run_evaluate),
    "efficiency": (add_efficiency_arguments, run_efficiency),
    "probe-upstream": (add_probe_arguments, run_probe),
}
