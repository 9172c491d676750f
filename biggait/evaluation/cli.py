"""``biggait evaluate``: test embeddings of a checkpoint, scored by the test dataset's protocol.

    biggait evaluate --checkpoint RUN/model.pt --dataset ccpg --root DATA/ccpg \\
        [--partition DATA/ccpg.json] --out RESULTS/eval/EXP/seed0/ccpg [--device auto]

Writes into ``--out`` (each file atomically): ``embeddings.npz``, ``metrics.json``, the long
``metrics.csv`` (train_dataset, test_dataset, protocol, condition, metric, value, ci_low,
ci_high; percent) and ``view_matrices/<protocol>_<condition>_rank1.csv``. The protocol follows
``--dataset``; the train dataset comes from the checkpoint's experiment (cross-domain
evaluation is just another ``--dataset``). Features are never recomputed when ``--out`` already
holds embeddings of the same checkpoint and test set, or with ``--from-embeddings FILE``.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import logging
import math
from pathlib import Path

from biggait.config import EvalConfig, Experiment, experiment_from_dict, to_dict
from biggait.errors import EvaluationError
from biggait.evaluation.extract import Embeddings, extract_embeddings, resolve_device
from biggait.evaluation.mask_quality import mask_iou_rows
from biggait.evaluation.protocols import METRICS_CSV_COLUMNS, PROTOCOLS, EvalResult, MetricRow, evaluate, get_protocol
from biggait.io import atomic_path, git_commit, package_versions, write_json_atomic, write_text_atomic

logger = logging.getLogger(__name__)

CSV_COLUMNS = METRICS_CSV_COLUMNS


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of ``biggait evaluate``."""
    p.add_argument("--checkpoint", type=Path, help="model.pt of a run (or an OpenGait BigGait checkpoint)")
    p.add_argument("--dataset", required=True, help="test dataset preset = protocol: ccpg | casiab | sustech1k | ccgr_mini")
    p.add_argument("--root", type=Path, help="test dataset root <root>/<id>/<type>/<view>/*.pkl")
    p.add_argument("--partition", type=Path, default=None, help="partition JSON (TEST_SET; GALLERY_SET for CCGR-Mini)")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N (default: %(default)s)")
    p.add_argument("--from-embeddings", type=Path, default=None, help="score saved embeddings.npz, no model run")
    p.add_argument("--train-dataset", default=None, help="label of the training set (default: the checkpoint's)")
    p.add_argument("--metric", choices=("euc", "cos"), default=None, help="distance (default: the experiment's)")
    p.add_argument("--bootstrap", type=int, default=None, help="identity resamples for rank-1 CIs (0 = off)")
    p.add_argument("--seed", type=int, default=None, help="bootstrap seed (default: the experiment's eval.seed)")
    p.add_argument("--test-max-frames", type=int, default=None, help="frames per test sequence (0 = preset's cap)")
    p.add_argument("--pack-frames", type=int, default=None,
                   help="run test sequences together up to this many frames per forward "
                        "(default: the experiment's eval.pack_frames; 0 = one sequence at a time)")
    p.add_argument("--no-mask-iou", action="store_true", help="skip the foreground-mask IoU against silhouettes")


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
    """CCGR-Mini's gallery list (``GALLERY_SET`` of the partition); None for other protocols."""
    if protocol != "ccgr_mini":
        return None
    if partition is None:
        raise EvaluationError("--dataset ccgr_mini: --partition is required (its GALLERY_SET lists the gallery)")
    try:
        raw = json.loads(Path(partition).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise EvaluationError(f"{partition}: not a readable partition JSON ({exc})") from None
    keys = raw.get("GALLERY_SET") if isinstance(raw, dict) else None
    if not isinstance(keys, list) or not keys:
        raise EvaluationError(f"{partition}: GALLERY_SET: expected a non-empty list of 'id-type-view' keys")
    return {str(k) for k in keys}


def _num(x: float) -> str:
    return "" if x is None or (isinstance(x, float) and math.isnan(x)) else repr(float(x))


def metrics_csv_text(rows: list[MetricRow], train_dataset: str, test_dataset: str) -> str:
    """The long-format table (NaN written as an empty cell)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for r in rows:
        w.writerow([train_dataset, test_dataset, r.protocol, r.condition, r.metric,
                    _num(r.value), _num(r.ci_low), _num(r.ci_high)])
    return buf.getvalue()


def _json_safe(obj: object) -> object:
    if isinstance(obj, float):
        return None if math.isnan(obj) or math.isinf(obj) else obj
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    return obj


def write_metrics(out: Path, result: EvalResult, rows: list[MetricRow], info: dict) -> None:
    """Write metrics.json, metrics.csv and view_matrices/ (each atomically) into ``out``."""
    train, test = info["train_dataset"], info["test_dataset"]
    with atomic_path(out / "view_matrices") as tmp:
        tmp.mkdir()
        for m in result.matrices:
            buf = io.StringIO()
            w = csv.writer(buf, lineterminator="\n")
            w.writerow(["probe_view\\gallery_view", *m.views])
            for v, row in zip(m.views, m.values):
                w.writerow([v, *(_num(x) for x in row)])
            (tmp / f"{m.protocol}_{m.condition}_{m.metric}.csv").write_text(buf.getvalue())
    provenance = {"git_commit": git_commit(), "versions": package_versions()}
    payload = {**info, "unit": "percent", "provenance": provenance, "rows": [r.__dict__ for r in rows],
               "details": result.details}
    write_json_atomic(out / "metrics.json", _json_safe(payload))
    write_text_atomic(out / "metrics.csv", metrics_csv_text(rows, train, test))


def _extract(args: argparse.Namespace, protocol: str, fingerprint: dict, meta: dict,
             measure_masks: bool) -> Embeddings:
    """Run the model over the test split (resumable) and return the embeddings."""
    import dataclasses

    from biggait.data.loader import make_test_loader
    from biggait.models.checkpoints import load_model

    device = resolve_device(args.device)
    model, exp = load_model(args.checkpoint, map_location=device)
    data = exp.data  # frames cap, modality and workers of the trained model; dataset from --dataset
    if args.test_max_frames is not None:
        data = dataclasses.replace(data, test_max_frames=args.test_max_frames)
    loader = make_test_loader(data, dataset=protocol, root=args.root, partition=args.partition,
                              with_sils=measure_masks)
    logger.info("extracting %d test sequences of %s on %s", len(loader), protocol, device)
    return extract_embeddings(model, loader, device=device, autocast=exp.eval.autocast,
                              measure_masks=measure_masks, pad_and_resize=exp.model.pad_and_resize,
                              meta={**meta, "fingerprint": fingerprint},
                              partial_path=args.out / ".embeddings.partial.npz",
                              pack_frames=exp.eval.pack_frames if args.pack_frames is None else args.pack_frames)


def run(args: argparse.Namespace) -> int:
    """Entry point of ``biggait evaluate``."""
    from biggait.cpu_memory import keep_freed_memory

    protocol, _ = get_protocol(args.dataset)
    keep_freed_memory()  # no page faults for the big activations of feature extraction on CPU
    out: Path = args.out
    exp: Experiment | None = None
    if args.checkpoint is not None:
        if not args.checkpoint.is_file():
            raise EvaluationError(f"{args.checkpoint}: checkpoint not found")
        exp = checkpoint_experiment(args.checkpoint)
    elif args.from_embeddings is None:
        raise EvaluationError("give --checkpoint (to extract embeddings) or --from-embeddings FILE")
    ev = exp.eval if exp is not None else EvalConfig()
    metric = args.metric or ev.metric
    bootstrap = ev.bootstrap if args.bootstrap is None else args.bootstrap
    seed = ev.seed if args.seed is None else args.seed
    if bootstrap < 0:
        raise EvaluationError(f"--bootstrap {bootstrap}: expected >= 0")
    gallery_keys = read_gallery_keys(args.partition, protocol)

    if args.from_embeddings is not None:
        emb = Embeddings.load(args.from_embeddings)
        logger.info("scoring saved embeddings %s (no feature extraction)", args.from_embeddings)
    else:
        if args.root is None:
            raise EvaluationError("--root is required to extract embeddings")
        exp_name = exp.name if exp is not None else "opengait_checkpoint"
        fingerprint = {"checkpoint": str(args.checkpoint.resolve()), "checkpoint_sha256": file_sha256(args.checkpoint),
                       "test_dataset": protocol, "root": str(args.root.resolve()),
                       "partition": str(args.partition.resolve()) if args.partition else "",
                       "test_max_frames": args.test_max_frames}
        meta = {"checkpoint": str(args.checkpoint), "experiment": exp_name,
                "train_dataset": args.train_dataset or (exp.data.dataset if exp else "unknown"),
                "test_dataset": protocol}
        saved = out / "embeddings.npz"
        emb = None
        if saved.is_file():
            try:
                old = Embeddings.load(saved)
            except EvaluationError as exc:
                logger.warning("re-extracting: %s", exc)
            else:
                if old.meta.get("fingerprint") == fingerprint:
                    emb = old
                    logger.info("%s matches the checkpoint and test set: not recomputing features", saved)
        if emb is None:
            measure = not args.no_mask_iou and (exp is None or exp.model.arch == "biggait")
            emb = _extract(args, protocol, fingerprint, meta, measure)
            emb.save(saved)
    train_dataset = args.train_dataset or emb.meta.get("train_dataset") or (exp.data.dataset if exp else "unknown")
    result = evaluate(protocol, emb.features, emb.labels, emb.types, emb.views, metric=metric,
                      gallery_keys=gallery_keys, bootstrap=bootstrap, seed=seed)
    rows = list(result.rows)
    if emb.mask_intersection is not None and emb.mask_union is not None:
        rows += mask_iou_rows(emb.mask_intersection, emb.mask_union, emb.types, PROTOCOLS[protocol])
    info = {"train_dataset": train_dataset, "test_dataset": protocol,
            "experiment": emb.meta.get("experiment", exp.name if exp else ""),
            "checkpoint": emb.meta.get("checkpoint", str(args.checkpoint or "")),
            "metric": metric, "bootstrap": bootstrap, "seed": seed, "num_sequences": int(len(emb.labels)),
            "resolved_experiment": to_dict(exp) if exp is not None else None}  # the checkpoint's config
    write_metrics(out, result, rows, info)
    for r in rows:  # a short summary; the tables are the files
        if r.metric in ("rank1_exclude_identical_view", "rank1"):
            print(f"{protocol} {r.protocol:<4} {r.condition:<9} {r.metric:<28} {r.value:6.2f}")
    print(f"wrote {out / 'metrics.csv'}")
    return 0
