"""An analytic ESTIMATE of a BiggerGait training step's GPU memory (no GPU was used to derive it).

One step keeps, per frame, what the backward needs of every group (J of them; AMP: 2 bytes an element):

* the projection (:mod:`biggait.models.humanspace`) at the token grid, T = (2S/p)(S/p) tokens (512 for
  448x224, patch 14), map pixels M = 4T (the x2 upsample): the first BatchNorm's output saved by the first
  1x1 conv (``lpg * C`` channels), the hidden conv / BatchNorm / GELU outputs (3h, h = C/2), the second conv's
  output (m = 16) and four tensors at the map size (upsample, BatchNorm, sigmoid, masked): ``T(lpg C + 3h + m)
  + 4 M m``;
* the gait head's trunk (:mod:`biggait.models.gait_heads`, one BasicBlock per stage, strides 1, 2, 1, 1):
  the stem's conv / BN / ReLU (3 c0 M), stage 1 (5 c0 M), stages 2-4 at T pixels with their downsample
  branches (7 c T each): ``M (8 c0) + 7 T (c1 + c2 + c3)``;

plus, alive during the forward of the one time chunk, the raw block outputs (fp16) and their joint
LayerNorm (fp32): ``T * depth * C * (2 + 4)`` bytes a frame; and 12 bytes per trainable parameter (fp32
weights, gradients, SGD momentum). Frozen upstream weights (4 bytes each) are added. Everything else
(cuDNN workspaces, the allocator's fragmentation, the losses) is left out: read it as a lower bound.

    bytes(F) = F [2 J (T (lpg C + 3h + m) + 4 M m + 8 c0 M + 7 T (c1 + c2 + c3)) + 6 T depth C] + 12 P_train + 4 P_lvm

For the released BiggerGait-S (J = 12, C = 384, depth 12, 448x224) this is 0.122 GiB a frame: the released
batch of 8 x 4 sequences x 30 frames (960 frames) needs about 119 GiB on one GPU, more than an 80 GB
GPU holds; one 80 GB GPU (90% of its 74.5 GiB counted usable) takes about 540 frames (e.g. 8 x 4 x 16);
two GPUs at 480 frames each need about 60 GiB each; the release's 8 GPUs (120 frames each) about 16 GiB
each (it ran on 8 x 24 GB).
"""

from __future__ import annotations

import math

GPU_GIB = 80 * 10**9 / 2**30  # an "80 GB" GPU: 74.5 GiB
USABLE = 0.9  # of it, for the estimate's headroom (allocator, workspaces)


def frame_bytes(
    groups: int,
    width: int,
    depth: int,
    *,
    layers_per_group: int = 1,
    hidden: int = 0,
    map_dim: int = 16,
    channels: tuple[int, int, int, int] = (64, 128, 256, 512),
    image_size: int = 224,
    patch: int = 14,
) -> float:
    """Bytes of saved and transient activations per training frame (the module's formula)."""
    tokens = (2 * image_size // patch) * (image_size // patch)
    pixels = 4 * tokens
    h = hidden or width // 2
    c0, c1, c2, c3 = channels
    proj = tokens * (layers_per_group * width + 3 * h + map_dim) + 4 * pixels * map_dim
    head = pixels * 8 * c0 + 7 * tokens * (c1 + c2 + c3)
    return 2.0 * groups * (proj + head) + 6.0 * tokens * depth * width


def step_gib(frames: int, trainable_params: float, lvm_params: float, **shape) -> float:
    """Estimated GiB of one training step of ``frames`` frames on one GPU."""
    return (frames * frame_bytes(**shape) + 12.0 * trainable_params + 4.0 * lvm_params) / 2**30


def gpus_needed(frames: int, trainable_params: float, lvm_params: float, gpu_gib: float = GPU_GIB, **shape) -> int:
    """The fewest GPUs of ``gpu_gib`` that hold the step when its frames are split evenly (DDP)."""
    for n in range(1, 1025):
        if step_gib(math.ceil(frames / n), trainable_params, lvm_params, **shape) <= USABLE * gpu_gib:
            return n
    return 1025
