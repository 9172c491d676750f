"""Screen two pretext tasks for the demo's stand-in LVM (issue #19; numbers in docs/performance.md).

    OMP_NUM_THREADS=1 python tools/pretext_screen.py --frames results/pretrain/frames.npz \
        [--shift] [--paste W] [--steps 1500] [--batch 32] --out FILE.pth

Both are the MAE of ``biggait pretrain-lvm --objective mae`` (biggait/pretrain/mae.py) with one addition:

- ``--shift``: a random crop (scale 0.6-1, anywhere in the frame) resized back to 64x32 before the MAE, so the
  walker is no longer always at the same tokens and a token's position stops predicting its content;
- ``--paste W``: replaced-region detection, a generic pretext whose labels the augmentation itself makes (no
  silhouette): a random ellipse of tokens (10-40 % of the grid) is copied from another training frame into
  this one, the unmasked encoder sees the composite, and a linear head on its tokens predicts which tokens were
  pasted (binary cross-entropy, weight W). The blob is random, never the walker's shape.

It writes the encoder in the Meta DINOv2 layout (what ``biggait probe-lvm --lvm-checkpoint`` reads).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
import torch.nn.functional as F

from biggait.pretrain.mae import MAE, augment, cosine_lr, normalize


def shift_crop(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """A random crop of each frame (side scale 0.6-1, random place) resized back to the frame's size."""
    b, _, h, w = x.shape
    s = torch.empty(b).uniform_(0.6, 1.0, generator=gen)
    tx = (torch.rand(b, generator=gen) * 2 - 1) * (1 - s)
    ty = (torch.rand(b, generator=gen) * 2 - 1) * (1 - s)
    theta = torch.zeros(b, 2, 3)
    theta[:, 0, 0], theta[:, 1, 1], theta[:, 0, 2], theta[:, 1, 2] = s, s, tx, ty
    grid = F.affine_grid(theta, (b, 3, h, w), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def blobs(b: int, gh: int, gw: int, gen: torch.Generator) -> torch.Tensor:
    """``[B, gh, gw]`` random ellipses of tokens (1 = pasted), about 10-40 % of the grid each."""
    yy, xx = torch.meshgrid(torch.arange(gh).float(), torch.arange(gw).float(), indexing="ij")
    cy, cx = torch.rand(b, generator=gen) * gh, torch.rand(b, generator=gen) * gw
    area = torch.empty(b).uniform_(0.1, 0.4, generator=gen) * gh * gw
    aspect = torch.empty(b).uniform_(0.5, 3.0, generator=gen)
    ry = (area * aspect / torch.pi).sqrt()
    rx = (area / aspect / torch.pi).sqrt()
    d = ((yy - cy[:, None, None]) / ry[:, None, None]) ** 2 + ((xx - cx[:, None, None]) / rx[:, None, None]) ** 2
    return (d <= 1).float()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", required=True)
    ap.add_argument("--shift", action="store_true")
    ap.add_argument("--paste", type=float, default=0.0)
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--variant", default="vits14")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    data = np.load(args.frames)
    frames = torch.from_numpy(data["frames"])
    torch.manual_seed(args.seed)
    model = MAE(args.variant, (64, 32), 4, decoder_depth=2)
    head = torch.nn.Linear(model.vit.embed_dim, 1)
    params = [p for p in [*model.parameters(), *head.parameters()] if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-3, weight_decay=0.05, betas=(0.9, 0.95))
    gen = torch.Generator().manual_seed(args.seed)
    gh, gw = model.grid
    t0, curve = time.perf_counter(), []
    for step in range(args.steps):
        for g in opt.param_groups:
            g["lr"] = cosine_lr(step, args.steps, 1e-3, 50)
        idx = torch.randint(0, len(frames), (args.batch,), generator=gen)
        x = augment(frames[idx].float(), gen)
        if args.shift:
            x = shift_crop(x, gen)
        x = normalize(x)
        loss = mae = model.loss(x, gen)
        if args.paste > 0:
            other = normalize(augment(frames[torch.randint(0, len(frames), (args.batch,), generator=gen)].float(), gen))
            m = blobs(args.batch, gh, gw, gen)  # [B, gh, gw]
            pix = m.repeat_interleave(4, 1).repeat_interleave(4, 2)[:, None]
            logits = head(model.encode(x * (1 - pix) + other * pix)[:, 1:]).squeeze(-1)  # [B, gh*gw]
            loss = mae + args.paste * F.binary_cross_entropy_with_logits(logits, m.flatten(1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 3.0)
        opt.step()
        if (step + 1) % 100 == 0:
            curve.append([step + 1, round(mae.item(), 4), round(loss.item(), 4)])
            print(f"step {step + 1}: mae {mae.item():.4f} total {loss.item():.4f}", flush=True)
    torch.save(model.meta_state_dict(), args.out)
    info = {"args": vars(args), "seconds": round(time.perf_counter() - t0, 1), "curve": curve}
    with open(args.out + ".json", "w") as fh:
        json.dump(info, fh, indent=1)


if __name__ == "__main__":
    main()
