"""``biggait gpu-check``: the GPU acceptance check, one command, no dataset (``make gpu-check``).

    biggait gpu-check [--device cuda] [--out results/gpu_check.json] [--steps 10] [--quick]

Four parts, each a section of ``gpu_check.json`` and of the printed table:

1. ``golden``: every forward golden case (``fwd_*.npz``) on the device in fp32, compared with the
   CPU goldens at the README's tolerances (pass / fail), then under autocast (bf16 where the GPU
   has it, else fp16): max differences reported, never failed.
2. ``train``: the training step at the released shapes: BigGait-S (DINOv2-S architecture, random
   weights: speed does not depend on them), 448x224 canvas, batch 8 ids x 8 sequences x 30 frames,
   AMP as ``train.amp: auto`` resolves it: iterations/s, frames/s, peak memory after warm-up and the
   projected wall time of the released 40k-iteration schedule.
3. ``eval``: test-time extraction frames/s (one 250-frame CCPG sequence at a time, as released) and
   the CCPG protocol (gait + ReID) on a CCPG-size feature set (8,000 x 256 x 16).
4. ``gpu_claim``: ``python -m biggait.gpu_claim`` against the real ``nvidia-smi``: the GPU it claims
   is the one CUDA then uses (same name and UUID).
5. ``biggergait``: BiggerGait's golden forwards on the device and one AMP training step of the released
   12-group model (:mod:`biggait.gpu_check_biggergait`).

``--quick`` shrinks every shape (a smoke run of the command itself, e.g. on a CPU in the tests); its
numbers are not the acceptance numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from biggait.cli_paths import InputDir, OutputFile
from biggait.config import LossConfig, ModelConfig
from biggait.device import resolve_device
from biggait.errors import BigGaitError
from biggait.gpu_check_biggergait import check_biggergait
from biggait.gpu_check_biggergait import report_lines as biggergait_lines
from biggait.io import package_versions, write_json_atomic

RELEASED = {"batch_p": 8, "batch_k": 8, "frames": 30, "iters": 40000, "test_frames": 250, "ccpg_gallery": 8000}
QUICK = {"batch_p": 2, "batch_k": 2, "frames": 4, "iters": 40000, "test_frames": 8, "ccpg_gallery": 400}


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def check_golden(dev: torch.device, golden_dir: Path, amp: torch.dtype | None) -> dict:
    """fp32 forward goldens on ``dev`` (pass/fail) and under autocast ``amp`` (reported)."""
    from biggait.parity.golden import WEIGHTS_NAME
    from biggait.parity.model_checks import check_forward

    weights = golden_dir / WEIGHTS_NAME
    cases = sorted(p.name for p in golden_dir.glob("fwd_*.npz"))
    if not cases or not weights.is_file():
        return {"skipped": f"no forward goldens or weights in {golden_dir} (set BIGGAIT_GOLDEN_DIR)"}
    out: dict = {"fp32": {}, "autocast": {}, "autocast_dtype": str(amp).replace("torch.", "") if amp else None}
    for case in cases:
        res = check_forward(golden_dir, weights, case, device=str(dev))
        out["fp32"][case] = {
            "passed": all(r.passed for r in res),
            "arrays": {r.name: [r.max_abs_diff, r.tolerance, r.passed] for r in res},
        }
        if amp is not None:
            res = check_forward(golden_dir, weights, case, device=str(dev), autocast=amp)
            out["autocast"][case] = {r.name: r.max_abs_diff for r in res}
    out["passed"] = all(c["passed"] for c in out["fp32"].values())
    return out


def check_train(dev: torch.device, shapes: dict, steps: int, amp_setting: str = "auto") -> dict:
    """Timed training steps of BigGait-S at the released shapes (random weights and frames)."""
    from biggait.models.biggait import build_model
    from biggait.train.loop import resolve_amp, train_step

    torch.manual_seed(0)
    n, s = shapes["batch_p"] * shapes["batch_k"], shapes["frames"]
    cfg = ModelConfig()  # the released BigGait-S: 448x224 canvas, DINOv2-S architecture
    model = build_model(cfg, 100, LossConfig(), load_lvm=False).to(dev)
    model.set_iteration(10**6)  # the mask branch frozen, as for 39.5k of the 40k iterations
    model.train()
    opt = torch.optim.SGD(model.trainable_parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    amp = resolve_amp(amp_setting, dev)
    scaler = torch.amp.GradScaler(dev.type, enabled=amp == torch.float16)
    frames = torch.randn(n, s, 3, 256, 128, device=dev)  # CCPG's stored frames, pre-padded
    ratios = torch.full((n, s), 0.5, device=dev)
    labels = torch.arange(shapes["batch_p"], device=dev).repeat_interleave(shapes["batch_k"])
    warmup = 3 if steps >= 3 else 1
    for _ in range(warmup):
        train_step(model, opt, scaler, frames, ratios, labels, model.loss_cfg, amp_dtype=amp)
    _sync(dev)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    t0 = time.perf_counter()
    for _ in range(steps):
        terms, _ = train_step(model, opt, scaler, frames, ratios, labels, model.loss_cfg, amp_dtype=amp)
    _sync(dev)
    per_step = (time.perf_counter() - t0) / steps
    return {
        "batch": [shapes["batch_p"], shapes["batch_k"], s],
        "frames_per_step": n * s,
        "amp": str(amp),
        "seconds_per_iter": per_step,
        "iters_per_s": 1.0 / per_step,
        "frames_per_s": n * s / per_step,
        "peak_memory_gib": torch.cuda.max_memory_allocated(dev) / 2**30 if dev.type == "cuda" else None,
        "projected_hours_40k": per_step * shapes["iters"] / 3600,
        "loss": float(terms["total"].detach()),
    }


def check_eval(dev: torch.device, shapes: dict) -> dict:
    """Extraction frames/s (one sequence per forward) and the CCPG protocol's time on random features."""
    from biggait.evaluation.protocols import evaluate
    from biggait.models.biggait import build_model

    model = build_model(ModelConfig(), 100, load_lvm=False).eval().to(dev)
    t = shapes["test_frames"]
    x = torch.randn(1, t, 3, 256, 128, device=dev)
    r = torch.full((1, t), 0.5, device=dev)
    times = []
    with torch.inference_mode():
        for i in range(4):
            _sync(dev)
            t0 = time.perf_counter()
            model(x, r)
            _sync(dev)
            if i:
                times.append(time.perf_counter() - t0)
    n = shapes["ccpg_gallery"]
    rng = np.random.default_rng(0)
    feats = rng.standard_normal((n, 256, 16)).astype(np.float32)
    types = np.array(["U0_D0_BG", "U0_D0", "U1_D1", "U2_D2", "U3_D3"])[rng.integers(0, 5, n)]
    labels = rng.integers(0, n // 40, n).astype(str)
    views = rng.integers(0, 10, n).astype(str)
    t0 = time.perf_counter()
    evaluate("ccpg", feats, labels, types, views)
    return {
        "extract_frames_per_s": t / float(np.median(times)),
        "sequence_frames": t,
        "ccpg_protocol_seconds": time.perf_counter() - t0,
        "ccpg_sequences": n,
        "note": "the protocol's distances run on the CPU (exact fp32, as the released evaluator)",
    }


def check_claim() -> dict:
    """Claim a GPU through the real nvidia-smi and check CUDA then sees that very GPU."""
    from biggait.gpu_claim import list_gpus

    gpus = list_gpus()
    if not gpus:
        return {"skipped": "nvidia-smi lists no GPU"}
    probe = (
        "import json, os, torch; p = torch.cuda.get_device_properties(0); "
        "print(json.dumps({'visible': os.environ['CUDA_VISIBLE_DEVICES'], 'name': p.name, "
        "'uuid': str(getattr(p, 'uuid', ''))}))"
    )
    lock_dir = Path(os.environ.get("TMPDIR", "/tmp")) / "biggait-gpu-check-locks"
    cmd = [
        sys.executable,
        "-m",
        "biggait.gpu_claim",
        "--gpus",
        "1",
        "--lock-dir",
        str(lock_dir),
        "--wait",
        "60",
        "--",
        sys.executable,
        "-c",
        probe,
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        return {"passed": False, "error": out.stderr.strip().splitlines()[-1:] or ["no output"]}
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    smi = subprocess.run(
        ["nvidia-smi", "--query-gpu=index,name,uuid", "--format=csv,noheader"],
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout
    rows = {r.split(",")[0].strip(): [c.strip() for c in r.split(",")[1:]] for r in smi.strip().splitlines()}
    name, uuid = rows.get(seen["visible"], ["?", "?"])
    same = seen["name"] == name and (not seen["uuid"] or uuid.endswith(seen["uuid"]) or seen["uuid"] in uuid)
    return {
        "claimed": seen["visible"],
        "cuda_name": seen["name"],
        "smi_name": name,
        "smi_uuid": uuid,
        "passed": bool(same),
    }


def run_gpu_check(device: str, golden_dir: Path, steps: int, quick: bool) -> dict:
    dev = resolve_device(device, what="--device", error=BigGaitError)
    shapes = QUICK if quick else RELEASED
    from biggait.train.loop import resolve_amp

    amp = resolve_amp("auto", dev) if dev.type == "cuda" else torch.bfloat16
    result: dict = {
        "device": str(dev),
        "quick": quick,
        "versions": package_versions(),
        "date": time.strftime("%Y-%m-%d"),
    }
    t0 = time.perf_counter()
    for name, fn in (
        ("golden", lambda: check_golden(dev, golden_dir, amp)),
        ("train", lambda: check_train(dev, shapes, steps)),
        ("eval", lambda: check_eval(dev, shapes)),
        ("gpu_claim", check_claim if dev.type == "cuda" else lambda: {"skipped": "not a CUDA run"}),
        ("biggergait", lambda: check_biggergait(dev, golden_dir, quick)),
    ):
        s0 = time.perf_counter()
        try:
            result[name] = fn()
        except torch.OutOfMemoryError as exc:
            result[name] = {"passed": False, "error": f"CUDA out of memory: {str(exc).splitlines()[0]}"}
        result[name]["seconds"] = round(time.perf_counter() - s0, 1)
        print(f"gpu-check: {name} done in {result[name]['seconds']} s", file=sys.stderr)
    result["seconds"] = round(time.perf_counter() - t0, 1)
    result["passed"] = all(
        result[k].get("passed", True) for k in ("golden", "train", "eval", "gpu_claim", "biggergait")
    )
    return result


def report_lines(res: dict) -> list[str]:
    """The printed table."""
    lines = [
        f"gpu-check on {res['device']} ({', '.join(res['versions'].get('gpus') or ['no GPU'])}), "
        f"torch {res['versions'].get('torch')} CUDA {res['versions'].get('torch_cuda')}"
        + (" [--quick: not the acceptance shapes]" if res["quick"] else "")
    ]
    g = res["golden"]
    if "fp32" in g:
        for case, c in g["fp32"].items():
            worst = max(c["arrays"].items(), key=lambda kv: kv[1][0] / kv[1][1] if kv[1][1] else 0.0)
            lines.append(
                f"  golden fp32 {case:<36} {'PASS' if c['passed'] else 'FAIL'}  "
                f"(closest to its tolerance: {worst[0]} {worst[1][0]:.2e} <= {worst[1][1]:.0e})"
            )
        for case, diffs in g["autocast"].items():
            lines.append(
                f"  golden {g['autocast_dtype']} {case:<36}"
                f" embed_1 max diff {diffs.get('embed_1', float('nan')):.3e} (reported)"
            )
    else:
        lines.append(f"  golden: {g.get('skipped') or g.get('error')}")
    t = res["train"]
    if "iters_per_s" in t:
        mem = f"{t['peak_memory_gib']:.1f} GiB" if t["peak_memory_gib"] is not None else "n/a (CPU)"
        lines.append(
            f"  train step {t['batch'][0]}x{t['batch'][1]}x{t['batch'][2]} {t['amp']}: {t['iters_per_s']:.3f} it/s, "
            f"{t['frames_per_s']:.0f} frames/s, peak {mem}, 40k iterations ~ {t['projected_hours_40k']:.2f} h"
        )
    else:
        lines.append(f"  train: {t.get('error')}")
    e = res["eval"]
    if "extract_frames_per_s" in e:
        lines.append(
            f"  extraction {e['extract_frames_per_s']:.0f} frames/s ({e['sequence_frames']}-frame sequences); "
            f"CCPG protocol on {e['ccpg_sequences']} sequences {e['ccpg_protocol_seconds']:.1f} s"
        )
    c = res["gpu_claim"]
    lines.append(
        f"  gpu_claim: {c.get('skipped') or ('PASS' if c.get('passed') else 'FAIL')} "
        + (
            f"(claimed {c['claimed']}: CUDA sees {c['cuda_name']}, nvidia-smi {c['smi_name']})"
            if "claimed" in c
            else ""
        )
    )
    b = res.get("biggergait", {})
    lines += biggergait_lines(b) if "train" in b else [f"  biggergait: {b.get('error', 'not run')}"]
    lines.append(f"{'PASSED' if res['passed'] else 'FAILED'} in {res['seconds']} s")
    return lines


def add_arguments(p: argparse.ArgumentParser) -> None:
    from biggait.parity.golden import default_golden_dir

    p.add_argument("--device", default="cuda", help="cuda | cuda:N (cpu only with --quick) (default %(default)s)")
    p.add_argument(
        "--out",
        type=OutputFile("result JSON"),
        default=Path("results/gpu_check.json"),
        help="result JSON (default %(default)s)",
    )
    p.add_argument(
        "--golden-dir",
        type=InputDir("golden folder"),
        default=default_golden_dir(),
        help="golden folder (default %(default)s)",
    )
    p.add_argument(
        "--steps", type=int, default=10, help="timed training steps after 3 warm-up steps (default %(default)s)"
    )
    p.add_argument("--quick", action="store_true", help="tiny shapes: a smoke run of the command, not the acceptance")


def run(args: argparse.Namespace) -> int:
    if not args.quick and not str(args.device).startswith("cuda"):
        raise BigGaitError(
            f"--device {args.device}: the acceptance check runs on a CUDA GPU (use --quick for a smoke run)"
        )
    if args.steps < 1:
        raise BigGaitError(f"--steps {args.steps}: expected >= 1")
    res = run_gpu_check(args.device, args.golden_dir, args.steps, args.quick)
    write_json_atomic(args.out, res)
    print("\n".join(report_lines(res)))
    print(f"wrote {args.out}")
    return 0 if res["passed"] else 1


COMMANDS = {"gpu-check": (add_arguments, run)}
