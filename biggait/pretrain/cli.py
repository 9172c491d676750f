"""``biggait pretrain-lvm --variant vits14 --data ccpg=ROOT:PARTITION ... --out FILE``.

Self-supervised pretraining of a tiny upstream ViT on the training frames of the given datasets
(RGB only). The frame canvas and patch size come from the scale (``--scale demo``: 64x32,
patch 4, a 16x8 token grid). Resumable: the same command continues an interrupted run.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from biggait.cli_paths import InputDir, InputFile, OutputFile

if TYPE_CHECKING:
    from biggait.pretrain.frames import Source


class DataSource:
    """``--data DATASET=ROOT:PARTITION``: a :class:`~biggait.pretrain.frames.Source` whose root folder and
    partition file exist (checked while parsing, like the :mod:`biggait.cli_paths` types)."""

    kind, fmt = "source", "json"

    def __call__(self, text: str) -> Source:
        from biggait.pretrain.frames import Source

        source = Source.parse(text)
        InputDir("dataset root").check(source.root)
        InputFile("partition", "json").check(source.partition)
        return source


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of ``biggait pretrain-lvm``."""
    from biggait.pretrain.loop import PretrainConfig

    d = PretrainConfig()
    p.add_argument("--variant", default=d.variant, help="LVM variant whose tiny stand-in is trained (default vits14)")
    p.add_argument(
        "--data",
        type=DataSource(),
        action="append",
        required=True,
        metavar="DATASET=ROOT:PARTITION",
        help="a dataset's training split to learn from (repeatable)",
    )
    p.add_argument(
        "--out",
        type=OutputFile("weights"),
        default=None,
        help="weights file (Meta DINOv2 layout); provenance at OUT.json",
    )
    p.add_argument(
        "--frames-cache",
        type=OutputFile("frames cache"),
        default=None,
        metavar="FILE",
        help="read the canvas frames from FILE when it was made from the same --data and scale, else "
        "build them and write FILE (the workflow prepares it once for every variant)",
    )
    p.add_argument("--frames-only", action="store_true", help="only prepare --frames-cache, no pretraining")
    p.add_argument(
        "--frame-workers",
        type=int,
        default=1,
        metavar="N",
        help="resize the frames in N one-thread processes (the same bytes as 1; the workflow gives its cores)",
    )
    p.add_argument("--scale", choices=("demo", "paper"), default="demo", help="where image size and patch come from")
    p.add_argument("--objective", default=d.objective, help="mae | tcl | mae+tcl (default mae+tcl, the demo's)")
    p.add_argument("--steps", type=int, default=d.steps)
    p.add_argument("--batch", type=int, default=d.batch)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument(
        "--decoder-depth", type=int, default=d.decoder_depth, help="MAE decoder blocks (default %(default)s)"
    )
    p.add_argument("--colour", default=d.colour, help="augmentation: jitter | strong (+ hue rotation, channel order)")
    p.add_argument("--target", default=d.target, help="MAE target: pixels | grey (default %(default)s)")
    p.add_argument(
        "--no-encoder-pos",
        action="store_true",
        help="keep the encoder's positional embedding at 0 (its tokens then carry content only)",
    )
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--save-every", type=int, default=250, help="steps between resumable states")
    p.add_argument("--stop-after", type=int, default=None, metavar="N", help="stop after N steps (resumable)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")


def run(args: argparse.Namespace) -> int:
    """Load the frames, pretrain, print the weights file."""
    from biggait.config import load_experiment
    from biggait.errors import ConfigError
    from biggait.pretrain.frames import cached_frames
    from biggait.pretrain.loop import PretrainConfig, pretrain

    model = load_experiment(None, scale=args.scale).model
    if not model.lvm_tiny:
        raise ConfigError(
            f"pretrain-lvm: scale {args.scale!r} does not use the tiny stand-in ViTs; "
            "the paper scale loads the official DINOv2 files instead"
        )
    cfg = PretrainConfig(
        variant=args.variant,
        image_hw=(2 * model.image_size, model.image_size),
        patch=model.lvm_patch,
        objective=args.objective,
        steps=args.steps,
        batch=args.batch,
        lr=args.lr,
        decoder_depth=args.decoder_depth,
        colour=args.colour,
        target=args.target,
        encoder_pos=not args.no_encoder_pos,
        seed=args.seed,
    )
    cfg.check()  # before the frames are read (pretrain() checks again for library callers)
    if args.frames_only and args.frames_cache is None:
        raise ConfigError("--frames-only: give --frames-cache FILE to write")
    if not args.frames_only and args.out is None:
        raise ConfigError("--out: the weights file to write is required (unless --frames-only)")
    if args.frame_workers < 1:
        raise ConfigError(f"--frame-workers {args.frame_workers}: expected a number of processes >= 1")
    sources = list(args.data)
    frames = cached_frames(
        sources, cfg.image_hw, args.frames_cache, progress=not args.no_progress, workers=args.frame_workers
    )
    if args.frames_only:
        print(f"{args.frames_cache}: {len(frames)} frames")
        return 0
    done = pretrain(
        cfg,
        frames,
        sources,
        args.out,
        save_every=args.save_every,
        progress=not args.no_progress,
        stop_after=args.stop_after,
    )
    print(args.out if done else f"stopped early; resume with the same command ({args.out}.state.pt)")
    return 0


# command name -> (add_arguments, run); biggait.cli maps the name to this module.
COMMANDS = {"pretrain-lvm": (add_arguments, run)}
