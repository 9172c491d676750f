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
gets ``mask_iou`` (its GRE foreground), and a BigGait or BiggerGait model ``upstream_probe`` (a linear probe of
its own frozen LVM's tokens for "person", :func:`biggait.evaluation.probe.probe_trained_upstream`: a random,
i.e. not loaded, upstream reads far below a pretrained one), unless ``--no-mask-iou``. Features are never recomputed
when ``--out`` already
holds embeddings of the same checkpoint and test set, or with ``--from-embeddings FILE``.

    biggait efficiency [--experiment FILE] [--scale demo|paper] [--json] [--throughput]

    biggait probe-lvm --dataset ccpg --root DATA/ccpg --partition DATA/ccpg.json \\
        [--lvm-checkpoint FILE] [--scale demo] --out RESULTS/upstream/probe_pretrained.json

``probe-lvm``: a linear probe of the upstream's patch tokens for "person" against the test
split's silhouettes (:mod:`biggait.evaluation.probe`).
"""

from __future__ import annotations

import argparse
import json
import logging

from biggait import paths
from biggait.cli_args import add_and, add_dataset, add_overrides, chained_runs
from biggait.cli_paths import InputDir, InputFile, InputPath, OutputDir, OutputFile
from biggait.config import load_experiment
from biggait.datasets import get_protocol
from biggait.errors import ConfigError
from biggait.evaluation.pipeline import EvalRequest

__all__ = ["COMMANDS"]

logger = logging.getLogger(__name__)


# ---- biggait evaluate ---------------------------------------------------------------------------------


def add_evaluate_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of ``biggait evaluate``."""
    p.add_argument(
        "--checkpoint",
        type=InputFile("checkpoint", "pt"),
        action="append",
        default=None,
        help="model.pt of a run (or an OpenGait BigGait checkpoint); repeat it, each with its own "
        "--out, to evaluate several models in one pass over the test set (models with the "
        "same frozen upstream then share its forward)",
    )
    add_dataset(
        p,
        dataset_help="test dataset preset = protocol: ccpg | casiab | sustech1k | ccgr_mini",
        root_what="test dataset root",
        partition_help="partition JSON (TEST_SET; GALLERY_SET for CCGR-Mini)",
    )
    p.add_argument(
        "--out",
        type=OutputDir("output"),
        action="append",
        required=True,
        help="output folder (one per --checkpoint, in the same order)",
    )
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N (default: %(default)s)")
    p.add_argument(
        "--lvm-checkpoint",
        type=InputPath("LVM checkpoint"),
        default=None,
        help="the DINOv2 a released BiggerGait checkpoint without Backbone.* tensors was trained on "
        "(a HuggingFace folder or a Meta .pth); other checkpoints carry their LVM",
    )
    p.add_argument(
        "--from-embeddings",
        type=InputFile("embeddings", "npz"),
        default=None,
        help="score saved embeddings.npz, no model run",
    )
    p.add_argument("--train-dataset", default=None, help="label of the training set (default: the checkpoint's)")
    p.add_argument("--metric", choices=("euc", "cos"), default=None, help="distance (default: the experiment's)")
    p.add_argument("--bootstrap", type=int, default=None, help="identity resamples for rank-1 CIs (0 = off)")
    p.add_argument("--seed", type=int, default=None, help="bootstrap seed (default: the experiment's eval.seed)")
    p.add_argument("--test-max-frames", type=int, default=None, help="frames per test sequence (0 = preset's cap)")
    p.add_argument(
        "--pack-frames",
        type=int,
        default=None,
        help="run test sequences together up to this many frames per forward "
        "(default: the experiment's eval.pack_frames; 0 = one sequence at a time)",
    )
    p.add_argument(
        "--no-mask-iou",
        action="store_true",
        help="skip the foreground-mask IoU and the upstream probe against silhouettes",
    )


def evaluation_request(args: argparse.Namespace) -> EvalRequest:
    """The parsed ``biggait evaluate`` flags as an :class:`~biggait.evaluation.pipeline.EvalRequest`."""
    protocol, _ = get_protocol(args.dataset)
    return EvalRequest(
        protocol,
        tuple(args.out),
        tuple(args.checkpoint or ()),
        root=args.root,
        partition=args.partition,
        from_embeddings=args.from_embeddings,
        device=args.device,
        train_dataset=args.train_dataset,
        metric=args.metric,
        bootstrap=args.bootstrap,
        seed=args.seed,
        test_max_frames=args.test_max_frames,
        pack_frames=args.pack_frames,
        lvm_checkpoint=args.lvm_checkpoint,
        mask_iou=not args.no_mask_iou,
    )


def run_evaluate(args: argparse.Namespace) -> int:
    """Entry point of ``biggait evaluate``: evaluate, then print a short summary (the tables are the files)."""
    from biggait.cpu_memory import keep_freed_memory
    from biggait.evaluation.pipeline import evaluate_checkpoints

    req = evaluation_request(args)
    keep_freed_memory()  # no page faults for the big activations of feature extraction on CPU
    for scored in evaluate_checkpoints(req):
        for r in scored.rows:
            if r.metric in ("rank1_exclude_identical_view", "rank1"):
                print(f"{req.protocol} {r.protocol:<4} {r.condition:<9} {r.metric:<28} {r.value:6.2f}")
        print(f"wrote {scored.out / paths.METRICS_CSV}")
    return 0


# ---- biggait efficiency -------------------------------------------------------------------------------


def add_efficiency_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of ``biggait efficiency``."""
    from biggait.evaluation.efficiency import DEFAULT_FOREGROUND

    p.add_argument(
        "--experiment",
        type=InputFile("experiment YAML", "yaml"),
        default=None,
        help="experiment YAML (default: the released configuration)",
    )
    p.add_argument("--scale", default=None, choices=["demo", "paper"], help="scale overlay (default: paper)")
    add_overrides(p)
    p.add_argument("--num-classes", type=int, default=100, help="classifier size when model.num_classes is 0")
    p.add_argument(
        "--foreground",
        type=float,
        default=DEFAULT_FOREGROUND,
        help="share of map pixels selected as foreground (default %(default)s)",
    )
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.add_argument(
        "--throughput", action="store_true", help="also time inference (frames/s of one 16-frame sequence on --device)"
    )
    p.add_argument("--device", default="auto", help="device for --throughput (default: cuda if available, else cpu)")
    p.add_argument(
        "--out", type=OutputFile("efficiency result"), default=None, help="write the result to FILE (default: stdout)"
    )
    add_and(p, "count another experiment (the workflow's one job for every row of the efficiency table)")


def run_efficiency(args: argparse.Namespace) -> int:
    """Entry point of ``biggait efficiency``: every run (``--and``) checked first, then counted in turn."""
    from biggait.evaluation.efficiency import count, report_lines, throughput
    from biggait.io import write_text_atomic

    runs = chained_runs(args, add_efficiency_arguments, "efficiency", "out")
    exps = [load_experiment(r.experiment, scale=r.scale, overrides=r.overrides) for r in runs]
    for r in runs:
        if not 0.0 <= r.foreground <= 1.0:
            raise ConfigError(f"--foreground: expected a share in [0, 1], got {r.foreground}")
    for r, exp in zip(runs, exps):
        res = count(exp.model, r.num_classes, r.foreground)
        if r.throughput:
            res.update(throughput(exp.model, r.num_classes, device=r.device))
        text = json.dumps(res, indent=2) if r.json else "\n".join(report_lines(exp.model, res))
        if r.out is None:
            print(text)
        else:
            write_text_atomic(r.out, text + "\n")
    return 0


# ---- biggait probe-lvm ---------------------------------------------------------------------------


def add_probe_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of ``biggait probe-lvm``."""
    from biggait.evaluation.probe import ProbeSettings

    d = ProbeSettings()
    p.add_argument(
        "--lvm-checkpoint",
        type=InputFile("upstream checkpoint", "pt"),
        default=None,
        help="upstream weights, Meta DINOv2 layout (default: the random ViT of the model config, --seed)",
    )
    add_dataset(
        p,
        dataset_help="dataset preset with silhouettes: ccpg | casiab | sustech1k | ccgr_mini",
        root_required=True,
        partition_required=True,
        partition_help="partition JSON (its TEST_SET is probed)",
    )
    p.add_argument(
        "--scale",
        choices=("demo", "paper"),
        default="demo",
        help="model config (variant, tiny, image size, patch, map size) from this scale (default %(default)s)",
    )
    add_overrides(p)
    p.add_argument(
        "--every", type=int, default=d.every, help="every k-th frame of each test sequence (default %(default)s)"
    )
    p.add_argument(
        "--max-frames", type=int, default=d.max_frames, help="at most this many frames (default %(default)s)"
    )
    p.add_argument(
        "--seed", type=int, default=d.seed, help="initialisation seed of the random upstream (default %(default)s)"
    )
    p.add_argument("--out", type=OutputFile("result JSON"), required=True, help="result JSON")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")


def run_probe(args: argparse.Namespace) -> int:
    """Entry point of ``biggait probe-lvm``: probe, then write the JSON (atomically)."""
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
    print(
        f"{res['upstream']} upstream, {res['frames']['eval']} frames scored: "
        + ", ".join(f"{k} IoU {v:.3f}" for k, v in iou.items())
    )
    print(f"wrote {args.out}")
    return 0


def add_groups_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "eval_dir",
        type=InputDir("evaluation folder"),
        help="a BiggerGait evaluation folder of biggait evaluate (embeddings.npz, metrics.json, metrics.csv)",
    )
    p.add_argument(
        "--partition",
        type=InputFile("partition", "json"),
        default=None,
        help="the test set's partition (CCGR-Mini: its GALLERY_SET lists the gallery)",
    )


def run_groups(args: argparse.Namespace) -> int:
    """Each layer group's own scores beside the ensemble's (biggait.evaluation.groups)."""
    from biggait.evaluation.groups import score_groups

    for s in score_groups(args.eval_dir, args.partition):
        print(f"{s.name}: " + ", ".join(f"{r.condition} {r.value:.1f}" for r in s.rows if r.metric.startswith("rank1")))
    return 0


# command name -> (add_arguments, run); biggait.cli maps the names to this module.
COMMANDS = {
    "evaluate": (add_evaluate_arguments, run_evaluate),
    "evaluate-groups": (add_groups_arguments, run_groups),
    "efficiency": (add_efficiency_arguments, run_efficiency),
    "probe-lvm": (add_probe_arguments, run_probe),
}
