"""tools/pretext_screen.py: the two screened pretexts' augmentations do what docs/performance.md says."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch

SPEC = importlib.util.spec_from_file_location(
    "pretext_screen", Path(__file__).parent.parent / "tools" / "pretext_screen.py"
)
screen = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(screen)


def test_blobs_cover_a_tenth_to_two_fifths_of_the_grid_and_vary():
    m = screen.blobs(400, 16, 8, torch.Generator().manual_seed(0))
    assert m.shape == (400, 16, 8) and set(m.unique().tolist()) <= {0.0, 1.0}
    share = m.flatten(1).mean(1)
    # an ellipse clipped by the border covers at most its area: 40 %, and mostly more than a few tokens
    assert share.max() <= 0.45 and share.median() > 0.1
    assert (m[0] != m[1]).any()  # one blob per frame, not one for the batch


def test_shift_crop_moves_the_content_and_keeps_the_frame_size():
    x = torch.zeros(64, 3, 64, 32)
    x[:, :, 28:36, 12:20] = 255.0  # a square at the centre
    y = screen.shift_crop(x, torch.Generator().manual_seed(0))
    assert y.shape == x.shape
    ys, xs = [], []
    for f in y[:, 0]:
        rows, cols = (f > 127).nonzero(as_tuple=True)
        ys.append(rows.float().mean())
        xs.append(cols.float().mean())
    # the square is enlarged (crop scale < 1) and lands at other places: its centre moves by pixels, not 0
    assert (y[:, 0] > 127).flatten(1).sum(1).float().mean() > 64
    assert torch.stack(ys).std() > 1.0 and torch.stack(xs).std() > 0.5
