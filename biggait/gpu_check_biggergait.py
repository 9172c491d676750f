"""The BiggerGait step of ``biggait gpu-check`` (section ``biggergait`` of ``gpu_check.json``).

1. ``golden``: every eval forward case of the BiggerGait golden folder's ``manifest.json``
   (``<golden>/biggergait``), its model built from the manifest (:mod:`biggait.parity.biggergait_golden`),
   run on the device in fp32 (TF32 off): the embeddings against the CPU golden at the README's tolerance
   (:data:`biggait.parity.biggergait_tolerances.EMB_ATOL`). A frame whose foreground decision flips on a
   borderline token (README section 3.2) changes its embeddings by design, so the check also reports the
   number of flipped tokens; a case with flips is reported, never failed.
2. ``train``: one training step (plus one warm-up) of the released 12-group / 12-head BiggerGait-S
   (random weights) at 448x224 with AMP as ``train.amp: auto`` resolves it, on one GPU's share of the
   released batch (8 ids x 4 sequences x 30 frames) split over the 2 GPUs the estimate asks for: 8 x 2 x 30
   (the whole batch, 960 frames, is estimated at ~119 GiB, more than one 80 GB GPU): seconds per step, peak
   memory, and the estimate of :func:`biggait.models.biggergait_memory.step_gib` beside it (the measured peak
   checks the estimate). ``--quick`` shrinks the batch and the frames.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from biggait.config import BiggerGaitConfig, LossConfig, ModelConfig

RELEASED = {"batch_p": 8, "batch_k": 2, "frames": 30, "image_size": 224}  # one of 2 GPUs' share of 8 x 4 x 30
QUICK = {"batch_p": 2, "batch_k": 2, "frames": 2, "image_size": 28, "channels": (8, 16, 32, 64), "embed_dim": 16}


def check_golden(dev: torch.device, golden_dir: Path, only: tuple[str, ...] = ()) -> dict:
    """fp32 eval forwards of the BiggerGait goldens on ``dev`` against the CPU golden embeddings (``only``:
    these case files)."""
    from biggait.parity.biggergait_golden import load_case_model, manifest_format, normalised, read_manifest
    from biggait.parity.biggergait_tolerances import EMB_ATOL

    if manifest_format(golden_dir) is None:
        return {"skipped": f"no BiggerGait manifest.json in {golden_dir}"}
    manifest = read_manifest(golden_dir)
    cases = [
        c
        for c in manifest["cases"]
        if c.get("kind") == "forward" and c.get("mode", "eval") == "eval" and (not only or c["file"] in only)
    ]
    out: dict = {"cases": {}, "atol": EMB_ATOL}
    tf32 = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        for case in cases:
            with np.load(Path(golden_dir) / case["file"]) as z:
                golden = {k: z[k] for k in ("input_uint8", "embeddings", "mask_32x16", "seqL") if k in z.files}
            model = load_case_model(golden_dir, manifest, case).to(dev).eval()
            x = normalised(golden["input_uint8"]).to(dev)
            seq = torch.from_numpy(golden["seqL"].astype(np.int64)).reshape(-1).to(dev) if "seqL" in golden else None
            with torch.no_grad():
                emb = model(x, None, seq).embeddings.float().cpu().numpy()
                fg = _token_mask(model, x)
            flips = int((fg != golden["mask_32x16"].reshape(fg.shape)).sum()) if "mask_32x16" in golden else 0
            diff = float(np.abs(emb - golden["embeddings"]).max())
            out["cases"][case["file"]] = {
                "max_abs_diff": diff,
                "mask_flips": flips,
                "passed": diff <= EMB_ATOL or flips > 0,
            }
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = tf32
    out["passed"] = all(c["passed"] for c in out["cases"].values())
    return out


def _token_mask(model, x: torch.Tensor) -> np.ndarray:
    """The model's foreground decision per token of every frame ``[n*s, gh, gw]`` (one chunk)."""
    import torch.nn.functional as F

    frames = x.reshape(-1, *x.shape[2:])
    frames = F.interpolate(frames, size=model.image_hw, mode="bilinear", align_corners=False)
    _, blocks = model.lvm.hidden_states(frames)
    last = blocks[-1][:, model.lvm.num_prefix :]
    tokens = F.layer_norm(last, (last.shape[-1],), eps=1e-6)
    p1 = model.mask(tokens.reshape(-1, tokens.shape[-1])).view(frames.shape[0], *model.lvm.grid)
    return (p1 > 0.5).cpu().numpy()


def check_train(dev: torch.device, shapes: dict) -> dict:
    """One timed AMP training step of the released BiggerGait-S (12 groups, 12 heads) at ``shapes``."""
    from biggait.models.biggait import build_model
    from biggait.models.biggergait_memory import step_gib
    from biggait.train.loop import resolve_amp, train_step

    torch.manual_seed(0)
    widths = {k: shapes[k] for k in ("channels", "embed_dim") if k in shapes}  # --quick: narrow heads
    cfg = ModelConfig(
        arch="biggergait",
        image_size=shapes["image_size"],
        biggergait=BiggerGaitConfig(layers_per_group=1, heads=12),
        **widths,
    )
    model = build_model(cfg, 100, LossConfig(), load_lvm=False).to(dev).train()
    opt = torch.optim.SGD(model.trainable_parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    amp = resolve_amp("auto", dev)
    scaler = torch.amp.GradScaler(dev.type, enabled=amp == torch.float16)
    n, s = shapes["batch_p"] * shapes["batch_k"], shapes["frames"]
    frames = torch.randn(n, s, 3, 2 * shapes["image_size"], shapes["image_size"], device=dev)
    labels = torch.arange(shapes["batch_p"], device=dev).repeat_interleave(shapes["batch_k"])
    loss_cfg = LossConfig()
    train_step(model, opt, scaler, frames, None, labels, loss_cfg, amp_dtype=amp)  # warm-up
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
        torch.cuda.reset_peak_memory_stats(dev)
    t0 = time.perf_counter()
    terms, skipped = train_step(model, opt, scaler, frames, None, labels, loss_cfg, amp_dtype=amp)
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    peak = torch.cuda.max_memory_allocated(dev) / 2**30 if dev.type == "cuda" else None
    return {
        "batch": [shapes["batch_p"], shapes["batch_k"], s],
        "image": [2 * shapes["image_size"], shapes["image_size"]],
        "amp": str(amp),
        "seconds_per_iter": time.perf_counter() - t0,
        "peak_memory_gib": peak,
        "estimated_memory_gib": step_gib(
            n * s,
            sum(p.numel() for p in model.trainable_parameters()),
            sum(p.numel() for p in model.lvm.parameters()),
            groups=model.groups,
            width=model.lvm.embed_dim,
            depth=model.lvm.depth,
            channels=tuple(cfg.channels),
            image_size=shapes["image_size"],
        ),
        "loss": float(terms["total"].detach()),
        "passed": bool(torch.isfinite(terms["total"].detach()).item()) and not skipped,
    }


def check_biggergait(dev: torch.device, golden_dir: Path, quick: bool) -> dict:
    """Both parts; ``golden_dir`` is the BigGait golden folder (its ``biggergait/`` sub-folder is read)."""
    sub = Path(golden_dir) / "biggergait"
    res = {
        "golden": check_golden(dev, sub if sub.is_dir() else Path(golden_dir)),
        "train": check_train(dev, QUICK if quick else RELEASED),
    }
    res["passed"] = res["golden"].get("passed", True) and res["train"]["passed"]
    return res


def report_lines(res: dict) -> list[str]:
    """Lines of the printed table."""
    g, t = res["golden"], res["train"]
    lines = [f"  biggergait golden: {g['skipped']}"] if "skipped" in g else []
    for case, c in g.get("cases", {}).items():
        state = "PASS" if c["max_abs_diff"] <= g["atol"] else ("flips (reported)" if c["mask_flips"] else "FAIL")
        lines.append(
            f"  biggergait golden fp32 {case:<32} {state}  embeddings max diff {c['max_abs_diff']:.2e} "
            f"<= {g['atol']:.0e}, {c['mask_flips']} mask flips"
        )
    mem = f"{t['peak_memory_gib']:.1f} GiB" if t["peak_memory_gib"] is not None else "n/a (CPU)"
    lines.append(
        f"  biggergait train step {t['batch'][0]}x{t['batch'][1]}x{t['batch'][2]} {t['amp']}: "
        f"{t['seconds_per_iter']:.2f} s, peak {mem} (estimate {t['estimated_memory_gib']:.1f} GiB)"
    )
    return lines
