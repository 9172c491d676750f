"""The evaluation of several checkpoints on one test set (what ``biggait evaluate`` runs).

Each checkpoint is read once: its bytes give the sha256 of the embeddings' fingerprint, its
experiment and, unless ``OUT/embeddings.npz`` already holds this checkpoint's features of this test
set, its model. The models to extract are grouped by how they read the test set
(:meth:`biggait.config.Experiment.test_pass`); each group is one pass over it, sharing the frozen
upstream's forward where the models allow it (:func:`biggait.evaluation.extract.extract_shared`).
Every model is then scored by the test dataset's protocol and its metrics files written
(:func:`biggait.evaluation.metrics_files.write_metrics`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from biggait import paths
from biggait.config import EvalConfig, Experiment, experiment_from_dict, to_dict
from biggait.datasets import PROTOCOLS
from biggait.device import resolve_device
from biggait.errors import EvaluationError
from biggait.evaluation.extract import Embeddings
from biggait.evaluation.mask_quality import mask_iou_rows
from biggait.evaluation.metrics_files import write_metrics
from biggait.evaluation.protocols import evaluate
from biggait.evaluation.results import MetricRow
from biggait.io import read_json

if TYPE_CHECKING:  # pragma: no cover
    import torch

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class EvalRequest:
    """What to evaluate and how: ``checkpoints[i]`` is written into ``outs[i]``; ``None`` settings
    fall back to the checkpoint's experiment."""

    protocol: str  # the test dataset's protocol (canonical name)
    outs: tuple[Path, ...]
    checkpoints: tuple[Path, ...] = ()
    root: Path | None = None
    partition: Path | None = None
    from_embeddings: Path | None = None  # score these saved embeddings (one model, no extraction)
    device: str = "auto"
    train_dataset: str | None = None
    metric: str | None = None
    bootstrap: int | None = None
    seed: int | None = None
    test_max_frames: int | None = None
    pack_frames: int | None = None
    lvm_checkpoint: Path | None = None  # the LVM of a released BiggerGait checkpoint without Backbone.* tensors
    mask_iou: bool = True  # the foreground-mask IoU and the upstream probe, where the test set has silhouettes


@dataclasses.dataclass
class ModelJob:
    """One model to evaluate: its checkpoint (None: scoring saved embeddings only), output folder,
    experiment (None: an OpenGait checkpoint's), the checkpoint as read until its model is built, and
    its embeddings once extracted or reused."""

    checkpoint: Path | None
    out: Path
    exp: Experiment | None = None
    weights: dict | None = None
    sha256: str = ""
    embeddings: Embeddings | None = None


@dataclasses.dataclass(frozen=True)
class Scored:
    """One model scored: its output folder and the rows written into its metrics.csv."""

    out: Path
    rows: list[MetricRow]


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


def read_checkpoint(path: Path, out: Path) -> ModelJob:
    """A job of one checkpoint, its file read once (hashed, then loaded with ``weights_only``)."""
    from biggait.models.weights import weights_from_bytes

    if not path.is_file():
        raise EvaluationError(f"{path}: checkpoint not found")
    data = path.read_bytes()
    weights = weights_from_bytes(data, path)
    exp = experiment_from_dict(weights["experiment"], str(path)) if "experiment" in weights else None
    return ModelJob(path, out, exp, weights, hashlib.sha256(data).hexdigest())


def model_jobs(req: EvalRequest) -> list[ModelJob]:
    """Pair every checkpoint with its output folder (one clear error when they do not pair up)."""
    ckpts, outs = req.checkpoints, req.outs
    if not ckpts:
        if req.from_embeddings is None:
            raise EvaluationError("give --checkpoint (to extract embeddings) or --from-embeddings FILE")
        if len(outs) != 1:
            raise EvaluationError(f"--from-embeddings: expected one --out, got {len(outs)}")
        return [ModelJob(None, outs[0])]
    if len(ckpts) != len(outs):
        raise EvaluationError(
            f"--checkpoint / --out: expected one --out per --checkpoint, got {len(ckpts)} "
            f"checkpoints and {len(outs)} --out"
        )
    if len(ckpts) > 1 and req.from_embeddings is not None:
        raise EvaluationError("--from-embeddings scores one model: give a single --checkpoint")
    if len(set(outs)) != len(outs):
        raise EvaluationError("--out: two checkpoints write into the same folder")
    for c in ckpts:
        if not c.is_file():
            raise EvaluationError(f"{c}: checkpoint not found")
    return [read_checkpoint(c, o) for c, o in zip(ckpts, outs)]


def scoring_settings(req: EvalRequest, exp: Experiment | None) -> tuple[str, int, int]:
    """Distance metric, bootstrap resamples and seed: the request's, else the experiment's eval config."""
    ev = exp.eval if exp is not None else EvalConfig()
    bootstrap = ev.bootstrap if req.bootstrap is None else req.bootstrap
    if bootstrap < 0:
        raise EvaluationError(f"--bootstrap {bootstrap}: expected >= 0")
    return req.metric or ev.metric, bootstrap, ev.seed if req.seed is None else req.seed


def _fingerprint(req: EvalRequest, job: ModelJob) -> dict:
    """What the saved embeddings of a job must have been extracted from to be reused."""
    return {
        "checkpoint": str(job.checkpoint.resolve()),
        "checkpoint_sha256": job.sha256,
        "test_dataset": req.protocol,
        "root": str(req.root.resolve()),
        "partition": str(req.partition.resolve()) if req.partition else "",
        "test_max_frames": req.test_max_frames,
        # only when given, so that embeddings saved before the flag existed stay valid
        **({"lvm_checkpoint": str(req.lvm_checkpoint.resolve())} if req.lvm_checkpoint else {}),
    }


def _meta(req: EvalRequest, job: ModelJob, fingerprint: dict) -> dict:
    exp = job.exp
    return {
        "checkpoint": str(job.checkpoint),
        "experiment": exp.name if exp is not None else "opengait_checkpoint",
        "train_dataset": req.train_dataset or (exp.data.dataset if exp else "unknown"),
        "test_dataset": req.protocol,
        "fingerprint": fingerprint,
    }


def _saved(job: ModelJob, fingerprint: dict) -> Embeddings | None:
    """``OUT/embeddings.npz`` when it holds this checkpoint's features of this test set."""
    saved = job.out / paths.EMBEDDINGS_NPZ
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


@dataclasses.dataclass
class _Pending:
    """A job whose features are to be extracted: its built model, the experiment as the test set is
    read (the request's frame cap and packing applied) and the embeddings' metadata."""

    job: ModelJob
    model: torch.nn.Module
    exp: Experiment
    meta: dict


def _pending(req: EvalRequest, job: ModelJob, device: torch.device) -> _Pending:
    """Build the job's model from the checkpoint read (which is then dropped)."""
    from biggait.models.checkpoints import model_from_weights

    meta = _meta(req, job, _fingerprint(req, job))
    model, exp = model_from_weights(job.weights, job.checkpoint, map_location=device, lvm_file=req.lvm_checkpoint)
    job.weights = None
    # How the test set is read is the trained model's (frames cap, modality, workers), unless the request says.
    data = (
        exp.data if req.test_max_frames is None else dataclasses.replace(exp.data, test_max_frames=req.test_max_frames)
    )
    ev = exp.eval if req.pack_frames is None else dataclasses.replace(exp.eval, pack_frames=req.pack_frames)
    return _Pending(job, model, dataclasses.replace(exp, data=data, eval=ev), meta)


# The architectures with a frozen LVM (probed as ``upstream_probe``) and those with a GRE mask (``mask_iou``).
LVM_ARCHS = ("biggait", "biggergait")
MASK_ARCHS = ("biggait",)


def _probe_key(m: _Pending) -> tuple:
    """What the upstream probe of a model depends on besides its LVM's weights (its input geometry)."""
    c = m.exp.model
    return (c.lvm, c.lvm_tiny, c.image_size, c.lvm_patch, c.gre_map_width, c.pad_and_resize)


def _probe_clusters(members: list[_Pending]) -> list[list[int]]:
    """Indices of ``members`` whose probes read alike (equal probe geometry and LVM weights): probed once."""
    from biggait.evaluation.extract import same_lvm_weights

    clusters: list[list[int]] = []
    for i, m in enumerate(members):
        for c in clusters:
            first = members[c[0]]
            if _probe_key(first) == _probe_key(m) and same_lvm_weights(first.model, m.model):
                c.append(i)
                break
        else:
            clusters.append([i])
    return clusters


def _extract_group(req: EvalRequest, members: list[_Pending], masks: bool, probe: bool, device: torch.device) -> None:
    """One pass over the test set for models that read it alike; fills their ``job.embeddings``.
    ``masks``: measure the GRE foreground against the silhouettes; ``probe``: probe each model's LVM."""
    from biggait.data.loader import make_test_loader
    from biggait.evaluation.extract import extract_shared
    from biggait.evaluation.probe import probe_trained_upstream

    exp = members[0].exp

    def test_loader(with_sils: bool):
        return make_test_loader(
            exp.data, dataset=req.protocol, root=req.root, partition=req.partition, with_sils=with_sils
        )

    loader = test_loader(masks)  # silhouettes read along the extraction only where the masks are measured
    logger.info(
        "extracting %d test sequences of %s on %s for %d model(s)", len(loader), req.protocol, device, len(members)
    )
    models = [m.model for m in members]
    embs = extract_shared(
        models,
        loader,
        device=device,
        autocast=exp.eval.autocast,
        measure_masks=masks,
        pad_and_resize=[m.exp.model.pad_and_resize for m in members],
        metas=[m.meta for m in members],
        partial_paths=[m.job.out / paths.EMBEDDINGS_PARTIAL for m in members],
        pack_frames=exp.eval.pack_frames,
    )
    probe_set = (loader if masks else test_loader(True)).dataset if probe else None
    if probe_set is not None and "sils" in probe_set.modalities:
        # The model's own LVM probed for "person" (on the frames it samples), once per cluster of models that
        # read it alike.
        for cluster in _probe_clusters(members):
            first = members[cluster[0]]
            logger.info("probing the upstream of %s on the test silhouettes", first.exp.name)
            iou = probe_trained_upstream(first.model.lvm, first.exp.model, probe_set, progress=False)
            for i in cluster:
                embs[i].meta["upstream_probe_iou"] = iou
    for m, emb in zip(members, embs):
        emb.save(m.job.out / paths.EMBEDDINGS_NPZ)
        m.job.embeddings = emb


def extract_all(req: EvalRequest, jobs: list[ModelJob]) -> None:
    """Fill ``job.embeddings`` of every job: saved ones are reused; the others are extracted, one pass
    over the test set per group of models that read it alike (frames cap, modality, packing)."""
    device = resolve_device(req.device, what="--device", error=EvaluationError)
    groups: dict[tuple, list[_Pending]] = {}
    for job in jobs:
        job.embeddings = _saved(job, _fingerprint(req, job))
        if job.embeddings is not None:
            job.weights = None
            continue
        pending = _pending(req, job, device)
        arch = pending.exp.model.arch
        masks, probe = req.mask_iou and arch in MASK_ARCHS, req.mask_iou and arch in LVM_ARCHS
        groups.setdefault((pending.exp.test_pass(), masks, probe), []).append(pending)
    for (_, masks, probe), members in groups.items():
        _extract_group(req, members, masks, probe, device)


def score(req: EvalRequest, job: ModelJob, gallery_keys: set[str] | None) -> Scored:
    """Score one model's embeddings by the protocol and write its metrics files."""
    exp, emb = job.exp, job.embeddings
    metric, bootstrap, seed = scoring_settings(req, exp)
    train_dataset = req.train_dataset or emb.meta.get("train_dataset") or (exp.data.dataset if exp else "unknown")
    result = evaluate(
        req.protocol,
        emb.features,
        emb.labels,
        emb.types,
        emb.views,
        metric=metric,
        gallery_keys=gallery_keys,
        bootstrap=bootstrap,
        seed=seed,
    )
    rows = list(result.rows)
    if emb.mask_intersection is not None and emb.mask_union is not None:
        rows += mask_iou_rows(emb.mask_intersection, emb.mask_union, emb.types, PROTOCOLS[req.protocol])
    if emb.meta.get("upstream_probe_iou") is not None:
        rows.append(MetricRow("upstream_probe", "all", "iou", float(emb.meta["upstream_probe_iou"]) * 100))
    info = {
        "train_dataset": train_dataset,
        "test_dataset": req.protocol,
        "experiment": emb.meta.get("experiment", exp.name if exp else ""),
        "checkpoint": emb.meta.get("checkpoint", str(job.checkpoint or "")),
        "metric": metric,
        "bootstrap": bootstrap,
        "seed": seed,
        "num_sequences": int(len(emb.labels)),
        "resolved_experiment": to_dict(exp) if exp is not None else None,
    }  # the checkpoint's config
    write_metrics(job.out, result, rows, info)
    return Scored(job.out, rows)


def evaluate_checkpoints(req: EvalRequest) -> list[Scored]:
    """Evaluate every checkpoint of the request (or score its saved embeddings); bad settings fail
    before any extraction."""
    if req.lvm_checkpoint is not None:
        from biggait.models.hf_dinov2 import check_lvm_path

        check_lvm_path(req.lvm_checkpoint)
    jobs = model_jobs(req)
    for job in jobs:
        scoring_settings(req, job.exp)
    gallery_keys = read_gallery_keys(req.partition, req.protocol)
    if req.from_embeddings is not None:
        logger.info("scoring saved embeddings %s (no feature extraction)", req.from_embeddings)
        jobs[0].embeddings = Embeddings.load(req.from_embeddings)
        jobs[0].weights = None
    else:
        if req.root is None:
            raise EvaluationError("--root is required to extract embeddings")
        extract_all(req, jobs)
    return [score(req, job, gallery_keys) for job in jobs]
