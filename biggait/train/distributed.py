"""Distributed-data-parallel helpers: process groups from torchrun, SyncBN, global-batch gathers.

Launch with ``torchrun --nproc_per_node N -m biggait.cli train ...``: torchrun sets ``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``, which :func:`init_from_env`
reads when it is called (never at import). NCCL is used on CUDA, gloo on CPU.

PyTorch's :class:`torch.nn.SyncBatchNorm` only runs on accelerators, so on CPU (gloo) the batch
norms are replaced by :class:`CPUSyncBatchNorm`, which all-reduces per-channel sums with a
differentiable all-reduce; both compute the statistics of the global batch.
"""

from __future__ import annotations

import dataclasses
import logging
import os

import torch
import torch.distributed as dist
from torch import Tensor, nn

from biggait.device import resolve_device

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class DistInfo:
    """Where this process stands: rank, world size and its device."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        """Rank 0 alone logs progress and writes files."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def init_from_env(device_spec: str = "auto") -> DistInfo:
    """Join the process group torchrun describes in the environment, or run as a single process.

    Returns a :class:`DistInfo`; with ``WORLD_SIZE`` unset or 1 no process group is created.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = resolve_device(device_spec, local_rank=local_rank)
    if world <= 1:
        return DistInfo(0, 1, 0, device)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend, rank=rank, world_size=world)
        logger.info("joined process group: rank %d of %d (%s)", rank, world, backend)
    return DistInfo(rank, world, local_rank, device)


def cleanup() -> None:
    """Leave the process group if one was created."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def rank() -> int:
    """This process's rank (0 without a process group)."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def barrier() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def any_true(flag: bool, device: torch.device) -> bool:
    """True when ``flag`` is true on any rank (so every rank takes the same branch)."""
    if not (dist.is_available() and dist.is_initialized()):
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def broadcast_object(obj: object, src: int = 0) -> object:
    """Send a picklable object from ``src`` to every rank (identity when not distributed)."""
    if not (dist.is_available() and dist.is_initialized()):
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


# ------------------------------------------------------------------------------------------
# Gathering the global batch for the triplet loss
# ------------------------------------------------------------------------------------------


class _GatherKeepLocalGrad(torch.autograd.Function):
    """All-gather along dim 0; the gradient flows back to the local slice only.

    Every rank computes the same global loss L from the gathered tensor. Rank r back-propagates
    only dL/dE_r through its own graph, and DDP then *averages* parameter gradients over the W
    ranks, which would give (1/W) dL/dtheta. Scaling the local gradient by W restores the gradient
    of the global loss (the reference multiplies its loss by W for the same reason).
    """

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:  # x: [n_local, ...]
        world, rank = dist.get_world_size(), dist.get_rank()
        parts = [torch.empty_like(x) for _ in range(world)]
        dist.all_gather(parts, x.contiguous())
        ctx.rank, ctx.world, ctx.n = rank, world, x.shape[0]
        return torch.cat(parts, dim=0)  # [world * n_local, ...], rank order

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        start = ctx.rank * ctx.n
        return grad[start : start + ctx.n] * ctx.world


def all_gather_with_grad(x: Tensor) -> Tensor:
    """Concatenate ``x`` from every rank (equal shapes); the local part keeps its gradient."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return x
    return _GatherKeepLocalGrad.apply(x)


def all_gather_no_grad(x: Tensor) -> Tensor:
    """Concatenate a tensor without gradient (e.g. labels) from every rank along dim 0."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return x
    parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, x.contiguous())
    return torch.cat(parts, dim=0)


def gather_embeddings(embeddings: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    """The ``gather`` hook for the triplet loss: global ``[N, D, parts]`` embeddings and ``[N]`` labels."""
    return all_gather_with_grad(embeddings), all_gather_no_grad(labels)


# ------------------------------------------------------------------------------------------
# Synchronised batch norm
# ------------------------------------------------------------------------------------------


class _AllReduceSum(torch.autograd.Function):
    """Sum over ranks; the gradient of every rank's input is the sum of every rank's gradient."""

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:
        y = x.clone()
        dist.all_reduce(y)
        return y

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        g = grad.clone()
        dist.all_reduce(g)
        return g


class CPUSyncBatchNorm(nn.modules.batchnorm._BatchNorm):
    """Batch norm over the global batch for CPU process groups (gloo).

    Statistics come from an all-reduce of per-channel ``[sum, sum of squares, count]``; the
    all-reduce is differentiable, so every rank's loss reaches every rank's inputs exactly as with
    one big batch. In eval mode (or without a process group) it is a plain batch norm.
    """

    def _check_input_dim(self, input: Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {input.dim()}D input)")

    def forward(self, x: Tensor) -> Tensor:  # x: [N, C, *]
        self._check_input_dim(x)
        sync = self.training and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1
        if not sync:
            return super().forward(x)
        c = x.shape[1]
        work = torch.promote_types(x.dtype, torch.float32)  # half inputs: statistics in float32
        flat = x.transpose(0, 1).reshape(c, -1).to(work)  # [C, N * prod(*)]
        count = torch.full((1,), float(flat.shape[1]), device=x.device, dtype=work)
        # two passes (mean, then centred squares): no cancellation in E[x^2] - E[x]^2
        total = _AllReduceSum.apply(torch.cat([flat.sum(1), count]))  # [C + 1]
        n = total[-1].clamp_min(1.0)
        mean = total[:c] / n  # [C]
        centred = flat - mean[:, None]
        var = _AllReduceSum.apply((centred * centred).sum(1)) / n  # [C] biased, for normalisation
        if self.track_running_stats and self.running_mean is not None:
            with torch.no_grad():
                self.num_batches_tracked += 1
                factor = (1.0 / float(self.num_batches_tracked)) if self.momentum is None else self.momentum
                unbiased = var * (n / (n - 1).clamp_min(1.0))
                self.running_mean.mul_(1 - factor).add_(mean.detach().to(self.running_mean.dtype), alpha=factor)
                self.running_var.mul_(1 - factor).add_(unbiased.detach().to(self.running_var.dtype), alpha=factor)
        shape = [1, c] + [1] * (x.dim() - 2)
        y = (x.to(work) - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y.to(x.dtype)


def _to_cpu_sync(module: nn.Module) -> nn.Module:
    out = module
    if isinstance(module, nn.modules.batchnorm._BatchNorm) and not isinstance(module, CPUSyncBatchNorm):
        out = CPUSyncBatchNorm(
            module.num_features, module.eps, module.momentum, module.affine, module.track_running_stats
        )
        if module.affine:
            with torch.no_grad():
                out.weight = module.weight
                out.bias = module.bias
        out.running_mean = module.running_mean
        out.running_var = module.running_var
        out.num_batches_tracked = module.num_batches_tracked
        out.training = module.training
    for name, child in module.named_children():
        out.add_module(name, _to_cpu_sync(child))
    return out


def convert_sync_batchnorm(model: nn.Module, device: torch.device) -> nn.Module:
    """Replace every batch norm of ``model`` by a synchronised one (in place where possible).

    CUDA uses :class:`torch.nn.SyncBatchNorm`; CPU uses :class:`CPUSyncBatchNorm`. Parameters and
    buffers are shared with the originals, so the state-dict keys do not change.
    """
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(model)
    return _to_cpu_sync(model)


def wrap_ddp(model: nn.Module, info: DistInfo) -> nn.Module:
    """Wrap ``model`` in DDP. Unused parameters are allowed: the mask branch freezes mid-run and
    switched-off branches never receive gradients."""
    from torch.nn.parallel import DistributedDataParallel as DDP

    ids = [info.device.index] if info.device.type == "cuda" else None
    return DDP(model, device_ids=ids, find_unused_parameters=True)  # buffers: rank 0's, every forward


def gather_objects(obj: object) -> list:
    """``[obj of rank 0, obj of rank 1, ...]`` on every rank (``[obj]`` when not distributed)."""
    if not (dist.is_available() and dist.is_initialized()):
        return [obj]
    out: list = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out
