"""The GRE's denoising projection at the token grid (biggait.models.extractor.GRE._denoising_hidden):
by linearity of the bilinear upsampling it equals the projection of the upsampled map, in value,
gradient and BatchNorm running statistics, while running on 4x fewer rows at paper scale."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from biggait.models.extractor import GRE


def _inputs(seed: int = 0, grid=(8, 4), map_hw=(16, 8), ns: int = 3, c: int = 64):
    g = torch.Generator().manual_seed(seed)
    tokens = 0.5 + torch.randn(ns, *grid, c, generator=g)
    up = F.interpolate(tokens.permute(0, 3, 1, 2), size=map_hw, mode="bilinear", align_corners=False)
    select = torch.rand(ns * map_hw[0] * map_hw[1], generator=g) > 0.3
    return tokens, up.permute(0, 2, 3, 1).contiguous(), select


def _gre() -> GRE:
    torch.manual_seed(0)
    return GRE(32, 64, appearance_dim=4, denoising_dim=4)


def test_token_grid_projection_matches_the_pixel_one(monkeypatch) -> None:
    calls = []
    real = GRE._denoising_hidden
    monkeypatch.setattr(GRE, "_denoising_hidden", staticmethod(lambda *a: calls.append(1) or real(*a)))
    base = _gre().train()
    for step in range(3):  # training steps: maps, weight gradients and running statistics
        tokens, up, select = _inputs(step)
        pixel, token = copy.deepcopy(base), copy.deepcopy(base)
        a = pixel.branch_maps(up, select)["denoising"]
        b = token.branch_maps(up, select, tokens)["denoising"]
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6)
        (a * torch.arange(a.shape[-1])).sum().backward()
        (b * torch.arange(b.shape[-1])).sum().backward()
        for (name, p), q in zip(pixel.denoising.named_parameters(), token.denoising.parameters()):
            # atol: the first bias feeds a BatchNorm, so its gradient is 0 up to rounding (~1e-5 here)
            torch.testing.assert_close(q.grad, p.grad, rtol=1e-4, atol=2e-5, msg=name)
        for (name, x), y in zip(pixel.denoising.named_buffers(), token.denoising.buffers()):
            torch.testing.assert_close(y, x, rtol=1e-6, atol=1e-7, msg=name)
        base = token
    assert len(calls) == 3
    base.eval()  # the running statistics in eval mode
    tokens, up, select = _inputs(7)
    with torch.no_grad():
        torch.testing.assert_close(base.branch_maps(up, select, tokens)["denoising"],
                                   base.branch_maps(up, select)["denoising"], rtol=1e-5, atol=1e-6)
    assert len(calls) == 4


@pytest.mark.parametrize("why", ["same grid", "upstream with gradients"])
def test_pixel_path_where_the_token_path_does_not_apply(monkeypatch, why: str) -> None:
    monkeypatch.setattr(GRE, "_denoising_hidden", staticmethod(lambda *a: pytest.fail("token path taken")))
    gre = _gre().train()
    if why == "same grid":  # the demo: GRE maps at the token grid, nothing to save
        tokens, up, select = _inputs(grid=(8, 4), map_hw=(8, 4))
    else:  # a trainable upstream: the statistics would need their gradient
        tokens, up, select = _inputs()
        up.requires_grad_(True)
    gre.branch_maps(up, select, tokens)
