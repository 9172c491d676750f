"""The GRE heads' first projection at the token grid (biggait.models.extractor.PixelHead._first_at_tokens):
by linearity of the bilinear upsampling it equals the projection of the upsampled map, in value,
gradient and BatchNorm running statistics, while running on 4x fewer rows at paper scale."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from biggait.models.extractor import GRE, PixelHead
from biggait.parity.golden import compare_zero
from biggait.parity.tolerances import bias_zero_bounds

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


def _first(head: PixelHead) -> torch.nn.Linear:
    """The head's first projection: its bias feeds a batch-statistics BatchNorm (:func:`_norm`)."""
    return head.proj[0] if isinstance(head.proj, torch.nn.Sequential) else head.proj


def _norm(head: PixelHead) -> torch.nn.Module:
    return head.proj[1] if isinstance(head.proj, torch.nn.Sequential) else head.bn_out


def _loss(maps: dict[str, torch.Tensor]) -> torch.Tensor:
    return sum((maps[name] * torch.arange(maps[name].shape[-1])).sum() for name in HEADS)


def _bias_bounds(gre: GRE):
    """Per head, the rounding bound of its first bias's gradient, from the actual tensors of the BatchNorm
    that bias feeds (its input and output gradient; derivation in analytic_zero_bound), set by backward."""
    return bias_zero_bounds({name: _norm(getattr(gre, name)) for name in HEADS})


def test_token_grid_projection_matches_the_pixel_one(monkeypatch) -> None:
    calls = _count_token_path(monkeypatch)
    base = _gre().train()
    for step in range(3):  # training steps: maps, weight gradients and running statistics
        tokens, up, select = _inputs(step)
        pixel, token = copy.deepcopy(base), copy.deepcopy(base)
        with _bias_bounds(pixel) as bound_a, _bias_bounds(token) as bound_b:
            a, b = pixel.branch_maps(up, select), token.branch_maps(up, select, tokens)
            for name in HEADS:
                torch.testing.assert_close(b[name], a[name], rtol=1e-5, atol=1e-6, msg=name)
            _loss(a).backward()
            _loss(b).backward()
        for name in HEADS:
            ha, hb = getattr(pixel, name), getattr(token, name)
            for (pname, p), q in zip(ha.named_parameters(), hb.parameters()):
                if p is _first(ha).bias:
                    # Its gradient is analytically 0 (BatchNorm removes a constant): each path's is rounding
                    # noise, checked against its own bound, not against the other path's noise.
                    for path, grad, bound in (("pixel", p.grad, bound_a[name]), ("token", q.grad, bound_b[name])):
                        r = compare_zero("gre", f"{name}.{pname} ({path} path)", grad.numpy(), bound)
                        assert r.passed, (r, grad, bound)
                    continue
                # atol: the first weights' gradients also cancel in BatchNorm's backward (up to 4.9e-6 off
                # beyond rtol, measured over the CPU kernels: AVX-512, AVX2, default)
                torch.testing.assert_close(q.grad, p.grad, rtol=1e-4, atol=2e-5, msg=f"{name}.{pname}")
            for (bname, x), y in zip(ha.named_buffers(), hb.buffers()):
                # the input BN's statistics come from BN's own kernel: bit for bit; later BNs see the
                # projection's values, equal up to rounding
                exact = bname.startswith("bn_in.")
                torch.testing.assert_close(
                    y, x, rtol=0 if exact else 1e-5, atol=0 if exact else 1e-7, msg=f"{name}.{bname}"
                )
        base = token
    assert len(calls) == 3 * len(HEADS)
    base.eval()  # the running statistics in eval mode
    tokens, up, select = _inputs(7)
    with torch.no_grad():
        a, b = base.branch_maps(up, select), base.branch_maps(up, select, tokens)
    for name in HEADS:
        torch.testing.assert_close(b[name], a[name], rtol=1e-5, atol=1e-6, msg=name)
    assert len(calls) == 4 * len(HEADS)


@pytest.mark.parametrize("error", ["batch norm removed", "1e-3 added"])
def test_bias_gradient_bound_fails_a_real_gradient(error: str) -> None:
    """The analytic-zero bound is met by the rounding noise, and fails a real bias gradient: the BatchNorm
    taken out from behind the bias (the gradient is then the sum of the output gradients), or 1e-3 added
    to one channel (the one with the widest bound)."""
    gre = _gre().train()
    if error == "batch norm removed":
        gre.appearance.bn_out = torch.nn.Identity()
        gre.denoising.proj[1] = torch.nn.Identity()
    tokens, up, select = _inputs(1)
    with _bias_bounds(gre) as bounds:
        _loss(gre.branch_maps(up, select, tokens)).backward()
    for name in HEADS:
        grad = _first(getattr(gre, name)).bias.grad.double().numpy()
        if error == "1e-3 added":
            assert compare_zero("gre", name, grad, bounds[name]).passed
            assert bounds[name].max() < 1e-3
            grad = grad + 1e-3 * (np.arange(len(grad)) == bounds[name].argmax())
        assert not compare_zero("gre", name, grad, bounds[name]).passed, (name, grad, bounds[name])


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
