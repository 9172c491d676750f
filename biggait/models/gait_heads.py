"""BiggerGait's gait heads: one GaitBase-like head per group of upstream layers, shared by adjacent groups.

A head (released ``Baseline_Single``) is built from the GaitBase blocks of :mod:`biggait.models.gaitbase`:
one stem ``Conv3x3(c_in -> c0) -> BN -> ReLU -> BasicBlock(c0)`` (no attention fusion: one source), a
trunk ``BasicBlock(c0 -> c1, stride 2), (c1 -> c2, 1), (c2 -> c3, 1)`` (64x32 -> 32x16), temporal max
pooling (per sequence when packed), HPP with ``parts`` strips, per-strip FCs (the retrieval embedding)
and a BNNeck with a cosine classifier.

Sharing (released ``Baseline_Share``): with J groups and P heads, group i goes through head
``i // (J / P)``. A shared head is *called once per group*, so in training each call normalises with its
own batch statistics and its BatchNorm running statistics are updated J / P times per step.
"""

from __future__ import annotations

from torch import Tensor, nn

from biggait.models.gaitbase import BasicBlock, BNNeck, SeparateFCs, Stem, horizontal_pooling, temporal_max


def released_init(module: nn.Module) -> None:
    """Released init: conv / linear xavier-uniform (bias 0); affine BN weight N(1, 0.02), bias 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)) and m.affine:
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class GaitHead(nn.Module):
    """One head: per-frame :meth:`frames`, then per-sequence :meth:`pool`."""

    def __init__(self, c_in: int, channels: tuple[int, ...], embed_dim: int, parts: int, num_classes: int) -> None:
        super().__init__()
        if len(channels) != 4:
            raise ValueError(f"model.channels: expected 4 widths, got {list(channels)}")
        c0, c1, c2, c3 = channels
        self.stem = Stem(c_in, c0)
        self.trunk = nn.Sequential(BasicBlock(c0, c1, 2), BasicBlock(c1, c2, 1), BasicBlock(c2, c3, 1))
        self.parts = parts
        self.fcs = SeparateFCs(parts, c3, embed_dim)
        self.bnneck = BNNeck(parts, embed_dim, num_classes)

    def frames(self, x: Tensor) -> Tensor:
        """Per-frame maps ``[N, c_in, h, w]`` -> trunk output ``[N, c3, h/2, w/2]``."""
        return self.trunk(self.stem(x))

    def pool(self, x: Tensor, seq_lengths: Tensor | None, trace: dict | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """Trunk output ``[n, c3, s, h', w']`` -> (embeddings, bnneck, logits), each ``[n_out, ., parts]``.
        ``trace`` receives ``tp`` ``[n_out, c3, h', w']`` and ``hpp`` ``[n_out, c3, parts]``."""
        tp = temporal_max(x, seq_lengths)
        hpp = horizontal_pooling(tp, self.parts)
        emb = self.fcs(hpp)
        bn, logits = self.bnneck(emb)
        if trace is not None:
            trace.update(tp=tp, hpp=hpp)
        return emb, bn, logits


class SharedHeads(nn.Module):
    """``heads`` GaitHeads for ``groups`` layer groups; group i uses head ``i // (groups / heads)``, the released
    float division: with J = 3 groups and P = 2 heads (BiggerGait Table 2(b)) groups 0, 1 share head 0 and group 2
    has head 1; equal shares whenever P divides J."""

    def __init__(
        self,
        groups: int,
        heads: int,
        c_in: int,
        channels: tuple[int, ...],
        embed_dim: int,
        parts: int,
        num_classes: int,
    ) -> None:
        super().__init__()
        if not 1 <= heads <= groups:
            raise ValueError(f"{heads} heads for {groups} layer groups (expected 1 to {groups})")
        self.groups, self.per_head = groups, groups / heads  # a float, as released
        self.heads = nn.ModuleList([GaitHead(c_in, channels, embed_dim, parts, num_classes) for _ in range(heads)])

    def head_of(self, group: int) -> GaitHead:
        return self.heads[int(group // self.per_head)]
