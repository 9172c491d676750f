"""The GRE heads' first projection at the token grid (biggait.models.extractor.PixelHead._first_at_tokens):
by linearity of the bilinear upsampling it equals the projection of the upsampled map, in value,
gradient and BatchNorm running statistics, while running on 4x fewer rows at paper scale."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from biggait.models.extractor import GRE, PixelHead

HEADS = ("appearance", "denoising")


def _inputs(seed: int = 0, grid=(8, 4), map_hw=(16, 8), ns: int = 3, c: int = 64):
    g = torch.Generator().manual_seed(seed)
    tokens = 0.5 + torch.randn(ns, *grid, c, generator=g)
    up = F.interpolate(tokens.permute(0, 3, 1, 2), size=map_hw, mode="bilinear", align_corners=False)
    select = torch.rand(ns * map_hw[0] * map_hw[1], generator=g) > 0.3
    return tokens, up.permute(0, 2, 3, 1).contiguous(), select


def _gre() -> GRE:
    torch.manual_seed(0)
    return GRE(32, 64, appearance_dim=4, denoising_dim=4)


def _count_token_path(monkeypatch) -> list:
    calls = []
    real = PixelHead._first_at_tokens
    monkeypatch.setattr(PixelHead, "_first_at_tokens", lambda self, *a: calls.append(1) or real(self, *a))
    return calls


def test_token_grid_projection_matches_the_pixel_one(monkeypatch) -> None:
    calls = _count_token_path(monkeypatch)
    base = _gre().train()
    for step in range(3):  # training steps: maps, weight gradients and running statistics
        tokens, up, select = _inputs(step)
        pixel, token = copy.deepcopy(base), copy.deepcopy(base)
        a, b = pixel.branch_maps(up, select), token.branch_maps(up, select, tokens)
        loss_a = loss_b = 0
        for name in HEADS:
            torch.testing.assert_close(b[name], a[name], rtol=1e-5, atol=1e-6, msg=name)
            weights = torch.arange(a[name].shape[-1])
            loss_a, loss_b = loss_a + (a[name] * weights).sum(), loss_b + (b[name] * weights).sum()
        loss_a.backward()
        loss_b.backward()
        for name in HEADS:
            ha, hb = getattr(pixel, name), getattr(token, name)
            for (pname, p), q in zip(ha.named_parameters(), hb.parameters()):
                # atol: a first bias that feeds a BatchNorm has a gradient of 0 up to rounding (~1e-5 here)
                torch.testing.assert_close(q.grad, p.grad, rtol=1e-4, atol=2e-5, msg=f"{name}.{pname}")
            for (bname, x), y in zip(ha.named_buffers(), hb.buffers()):
                # the input BN's statistics come from BN's own kernel: bit for bit; later BNs see the
                # projection's values, equal up to rounding
                exact = bname.startswith("bn_in.")
                torch.testing.assert_close(y, x, rtol=0 if exact else 1e-5, atol=0 if exact else 1e-7,
                                           msg=f"{name}.{bname}")
        base = token
    assert len(calls) == 3 * len(HEADS)
    base.eval()  # the running statistics in eval mode
    tokens, up, select = _inputs(7)
    with torch.no_grad():
        a, b = base.branch_maps(up, select), base.branch_maps(up, select, tokens)
    for name in HEADS:
        torch.testing.assert_close(b[name], a[name], rtol=1e-5, atol=1e-6, msg=name)
    assert len(calls) == 4 * len(HEADS)


@pytest.mark.parametrize("why", ["same grid", "upstream with gradients"])
def test_pixel_path_where_the_token_path_does_not_apply(monkeypatch, why: str) -> None:
    calls = _count_token_path(monkeypatch)
    gre = _gre().train()
    if why == "same grid":  # the demo: GRE maps at the token grid, nothing to save
        tokens, up, select = _inputs(grid=(8, 4), map_hw=(8, 4))
    else:  # a trainable upstream: the statistics would need their gradient
        tokens, up, select = _inputs()
        up.requires_grad_(True)
    gre.branch_maps(up, select, tokens)
    assert calls == []
