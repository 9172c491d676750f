"""The DDP building blocks on CPU (gloo, 2 processes): synced batch norm and the global-batch gather
give exactly what one process computes on the whole batch."""

from __future__ import annotations

import os

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from helpers import free_port
from torch import nn

from biggait.errors import ConfigError
from biggait.train import distributed as ddp

WORLD = 2


def _init(rank: int, port: int) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(WORLD), LOCAL_RANK=str(rank)
    )
    torch.set_num_threads(1)
    info = ddp.init_from_env("cpu")
    assert info.distributed and info.rank == rank and info.device.type == "cpu"


def _inputs() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(8, 3, 5, generator=g, dtype=torch.float64)  # [N, C, L]
    w = torch.randn(8, 3, 5, generator=g, dtype=torch.float64)
    return x, w


def _reference_bn() -> dict[str, torch.Tensor]:
    x, w = _inputs()
    x.requires_grad_(True)
    bn = nn.BatchNorm1d(3, affine=True).double()
    with torch.no_grad():
        bn.weight.copy_(torch.tensor([1.0, 2.0, 0.5]))
        bn.bias.copy_(torch.tensor([0.1, -0.2, 0.3]))
    y = bn(x)
    (y * w).sum().backward()
    return {"y": y.detach(), "xgrad": x.grad, "wgrad": bn.weight.grad, "rm": bn.running_mean, "rv": bn.running_var}


def _syncbn_worker(rank: int, port: int, path: str) -> None:
    _init(rank, port)
    x, w = _inputs()
    lo, hi = rank * 4, rank * 4 + 4
    xl = x[lo:hi].clone().requires_grad_(True)
    bn = nn.Sequential(nn.BatchNorm1d(3, affine=True)).double()
    with torch.no_grad():
        bn[0].weight.copy_(torch.tensor([1.0, 2.0, 0.5]))
        bn[0].bias.copy_(torch.tensor([0.1, -0.2, 0.3]))
    bn = ddp.convert_sync_batchnorm(bn, torch.device("cpu"))
    assert isinstance(bn[0], ddp.CPUSyncBatchNorm)
    y = bn(xl)
    (y * w[lo:hi]).sum().backward()
    wgrad = bn[0].weight.grad.clone()
    dist.all_reduce(wgrad)  # the sum over ranks is the whole batch's gradient
    parts = [torch.empty_like(y) for _ in range(WORLD)]
    dist.all_gather(parts, y.detach())
    gparts = [torch.empty_like(xl) for _ in range(WORLD)]
    dist.all_gather(gparts, xl.grad)
    if rank == 0:
        torch.save(
            {
                "y": torch.cat(parts),
                "xgrad": torch.cat(gparts),
                "wgrad": wgrad,
                "rm": bn[0].running_mean,
                "rv": bn[0].running_var,
            },
            path,
        )
    ddp.cleanup()


def _gather_worker(rank: int, port: int, path: str) -> None:
    _init(rank, port)
    x, _ = _inputs()
    xl = x[rank * 4 : rank * 4 + 4].clone().requires_grad_(True)
    labels = torch.arange(4) + 10 * rank
    g, gl = ddp.gather_embeddings(xl, labels)
    assert g.shape == (8, 3, 5) and torch.equal(gl, torch.tensor([0, 1, 2, 3, 10, 11, 12, 13]))
    assert torch.equal(g.detach(), x)
    loss = (g**2).sum() * (gl.double()[:, None, None] + 1).mean()  # the same global loss on every rank
    loss.backward()
    grad = xl.grad.clone()
    dist.all_reduce(grad, op=dist.ReduceOp.AVG)  # what DDP does to parameter gradients
    parts = [torch.empty_like(grad) for _ in range(WORLD)]
    dist.all_gather(parts, xl.grad)
    if rank == 0:
        torch.save({"grads": torch.cat(parts)}, path)
    flag = ddp.any_true(rank == 1, torch.device("cpu"))
    assert flag is True
    ddp.cleanup()


def test_cpu_sync_batchnorm_matches_whole_batch(tmp_path):
    path = str(tmp_path / "bn.pt")
    mp.spawn(_syncbn_worker, args=(free_port(), path), nprocs=WORLD, join=True)
    got, ref = torch.load(path), _reference_bn()
    for key in ("y", "xgrad", "wgrad", "rm", "rv"):
        torch.testing.assert_close(got[key], ref[key], rtol=1e-10, atol=1e-10, msg=key)


def test_gather_keeps_local_gradient_scaled_for_ddp_averaging(tmp_path):
    path = str(tmp_path / "g.pt")
    mp.spawn(_gather_worker, args=(free_port(), path), nprocs=WORLD, join=True)
    x, _ = _inputs()
    x.requires_grad_(True)
    labels = torch.tensor([0, 1, 2, 3, 10, 11, 12, 13])
    ((x**2).sum() * (labels.double()[:, None, None] + 1).mean()).backward()
    # each rank's local gradient, times the world size, equals the single-process gradient: after
    # DDP's averaging of parameter gradients the update is the one of the global loss
    torch.testing.assert_close(torch.load(path)["grads"], WORLD * x.grad)


def test_single_process_helpers_are_identities():
    x = torch.randn(3, 2, requires_grad=True)
    labels = torch.tensor([1, 2, 3])
    g, gl = ddp.gather_embeddings(x, labels)
    assert g is x and gl is labels
    assert ddp.any_true(False, torch.device("cpu")) is False
    assert ddp.gather_objects({"a": 1}) == [{"a": 1}]
    assert ddp.rank() == 0


def test_resolve_device():
    assert ddp.resolve_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert ddp.resolve_device("auto").type == expected
    with pytest.raises(ConfigError, match="train.device"):
        ddp.resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="CUDA is not available"):
            ddp.resolve_device("cuda:0")
