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


EPS32 = torch.finfo(torch.float32).eps


def _record_first_layer_grads(gre: GRE) -> dict[str, torch.Tensor]:
    """Per head, the gradient of the first projection's output rows (the pixel path; filled by backward)."""
    grads: dict[str, torch.Tensor] = {}
    for name in HEADS:
        head = getattr(gre, name)
        first = head.proj[0] if isinstance(head.proj, torch.nn.Sequential) else head.proj
        def hook(module, inputs, out, name=name):  # returns None: the output is left as it is
            out.register_hook(lambda g: grads.__setitem__(name, g.detach()))
        first.register_forward_hook(hook)
    return grads


def bias_gradient_tolerance(row_grads: torch.Tensor) -> torch.Tensor:
    """Per channel, how far two computations of a bias gradient may differ by rounding alone.

    A bias gradient is the sum over rows of the gradient reaching the layer's output, g_i. In front of a
    BatchNorm it is analytically ~0 (the sum cancels), so a relative tolerance is meaningless and the
    scale is that of the terms: each term carries the float32 rounding of the forward and backward
    passes (the two paths' maps agree to ~1e-6 relative) and a sum of N terms adds ~log2(N) eps of their
    absolute sum, so the two sums differ by at most ~64 eps * sum_i |g_i| (64: those contributions,
    with margin). A real error, such as one row missing from the sum, moves it by |g_i| ~ sum/N, ~50x more.
    """
    return 64 * EPS32 * row_grads.reshape(-1, row_grads.shape[-1]).abs().sum(0)


def test_bias_gradient_tolerance_catches_a_missing_row() -> None:
    """The bound is derived from the terms' scale, yet fails a sum that lost one pixel row (a wrong pad
    column or selection would do that)."""
    g = torch.randn(270, 4, generator=torch.Generator().manual_seed(0))
    g -= g.mean(0)  # a BatchNorm's input gradient: each channel sums to 0
    full, dropped = g.sum(0), g[1:].sum(0)
    assert ((full - g.double().sum(0).float()).abs() <= bias_gradient_tolerance(g)).all()
    assert ((full - dropped).abs() > bias_gradient_tolerance(g)).all()


def test_token_grid_projection_matches_the_pixel_one(monkeypatch) -> None:
    calls = _count_token_path(monkeypatch)
    base = _gre().train()
    for step in range(3):  # training steps: maps, weight gradients and running statistics
        tokens, up, select = _inputs(step)
        pixel, token = copy.deepcopy(base), copy.deepcopy(base)
        row_grads = _record_first_layer_grads(pixel)
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
            first = "proj.0.bias" if isinstance(ha.proj, torch.nn.Sequential) else "proj.bias"
            for (pname, p), q in zip(ha.named_parameters(), hb.parameters()):
                if pname == first:  # a sum of row gradients that cancels: compared at the terms' scale
                    tol = bias_gradient_tolerance(row_grads[name])
                    assert ((q.grad - p.grad).abs() <= tol).all(), (f"{name}.{pname}", q.grad - p.grad, tol)
                    continue
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
