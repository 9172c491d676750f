"""The downstream: BigGait's modified GaitBase and the silhouette GaitBase baseline.

Frames are processed as ``[n*s, C, h, w]`` (per frame) until temporal pooling. BigGait's variant
has two stems (denoising map, appearance map) fused by attention; the silhouette baseline has one
stem on ``[n, s, 1, h, w]`` silhouettes. Both end in temporal max pooling, horizontal pyramid
pooling (HPP), per-strip FCs (the retrieval embedding) and a BNNeck with a per-strip cosine
classifier.

HPP on small maps: with ``parts`` strips and a trunk output of height ``h``, the released model
splits ``h*w`` row-major into ``parts`` equal bins (``h == parts`` at 448x224: one row per strip).
When ``h`` is a multiple of ``parts`` we do exactly that; otherwise (the demo: ``h = 8``,
16 strips) strip ``i`` pools the rows of an adaptive window ``[floor(i*h/p), ceil((i+1)*h/p))``
(rows are repeated when ``h < parts``), so strips stay horizontal.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def conv3x3(c_in: int, c_out: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)


class BasicBlock(nn.Module):
    """ResNet basic block: two 3x3 convs with BN, identity (or 1x1 conv + BN) shortcut."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = conv3x3(c_in, c_out, stride)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = conv3x3(c_out, c_out)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.downsample = None
        if stride != 1 or c_in != c_out:
            self.downsample = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: Tensor) -> Tensor:
        idt = x if self.downsample is None else self.downsample(x)
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(y)) + idt)


class Stem(nn.Module):
    """``Conv3x3(c_in -> c) -> BN -> ReLU -> BasicBlock(c -> c)``, per frame."""

    def __init__(self, c_in: int, c: int) -> None:
        super().__init__()
        self.conv = conv3x3(c_in, c)
        self.bn = nn.BatchNorm2d(c)
        self.block = BasicBlock(c, c)

    def forward(self, x: Tensor) -> Tensor:
        return self.block(F.relu(self.bn(self.conv(x))))


class AttentionFusion(nn.Module):
    """Per-pixel softmax weights over two ``c``-channel sources, then their weighted sum."""

    def __init__(self, c: int, squeeze: int = 16, sources: int = 2) -> None:
        super().__init__()
        hidden = max(1, c // squeeze)
        self.sources = sources
        self.score = nn.Sequential(
            nn.Conv2d(c * sources, hidden, 1, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU(inplace=True),
            conv3x3(hidden, hidden),
            nn.BatchNorm2d(hidden),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, c * sources, 1, bias=False),
        )

    def forward(self, feats: list[Tensor]) -> Tensor:
        """feats: ``sources`` tensors ``[N, c, h, w]`` -> ``[N, c, h, w]``."""
        score = self.score(torch.cat(feats, dim=1))  # [N, c*sources, h, w]
        n, _, h, w = score.shape
        # The released weights read the score channels as (c, source): index = c*sources + source
        # (checked against the golden vectors; a source-major split differs by ~3e-2).
        weight = F.softmax(score.view(n, -1, self.sources, h, w), dim=2)  # [N, c, sources, h, w]
        out = feats[0] * weight[:, :, 0]
        for i in range(1, self.sources):
            out = out + feats[i] * weight[:, :, i]
        return out


def temporal_max(x: Tensor, seq_lengths: Tensor | None) -> Tensor:
    """Max over frames. x ``[n, c, s, h, w]``; with ``seq_lengths`` (packed, n = 1) -> ``[n_seq, c, h, w]``."""
    if seq_lengths is None:
        return x.max(dim=2)[0]
    chunks = torch.split(x, [int(v) for v in seq_lengths.reshape(-1).tolist()], dim=2)
    return torch.cat([c.max(dim=2)[0] for c in chunks], dim=0)


def horizontal_pooling(x: Tensor, parts: int) -> Tensor:
    """HPP: mean + max per horizontal strip. x ``[n, c, h, w]`` -> ``[n, c, parts]``."""
    n, c, h, w = x.shape
    if h % parts == 0:  # released behaviour: equal row-major bins
        z = x.reshape(n, c, parts, -1)
        return z.mean(-1) + z.max(-1)[0]
    return (F.adaptive_avg_pool2d(x, (parts, 1)) + F.adaptive_max_pool2d(x, (parts, 1))).squeeze(-1)


class SeparateFCs(nn.Module):
    """One ``c_in -> c_out`` linear map per strip: ``[n, c_in, p] -> [n, c_out, p]``."""

    def __init__(self, parts: int, c_in: int, c_out: int) -> None:
        super().__init__()
        self.fc_bin = nn.Parameter(nn.init.xavier_uniform_(torch.zeros(parts, c_in, c_out)))

    def forward(self, x: Tensor) -> Tensor:
        return x.permute(2, 0, 1).matmul(self.fc_bin).permute(1, 2, 0).contiguous()


class BNNeck(nn.Module):
    """BatchNorm1d over all ``c*p`` features (index c*p_count + p), per-strip L2 norm, cosine classifier."""

    def __init__(self, parts: int, c: int, num_classes: int) -> None:
        super().__init__()
        self.bn1d = nn.BatchNorm1d(c * parts)
        self.fc_bin = nn.Parameter(nn.init.xavier_uniform_(torch.zeros(parts, c, num_classes)))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """x ``[n, c, p]`` -> (normalised feature ``[n, c, p]``, logits ``[n, classes, p]``)."""
        n, c, p = x.shape
        feat = self.bn1d(x.reshape(n, -1)).view(n, c, p).permute(2, 0, 1)  # [p, n, c]
        feat = F.normalize(feat, dim=-1)
        logits = feat.matmul(F.normalize(self.fc_bin, dim=1))  # [p, n, classes]
        return feat.permute(1, 2, 0).contiguous(), logits.permute(1, 2, 0).contiguous()


class GaitBase(nn.Module):
    """Downstream GaitBase. ``sources`` = 2 (BigGait: denoising + appearance) or 1 (silhouettes).

    Args:
        in_channels: channels of each source map (16 for BigGait's maps, 1 for silhouettes).
        channels: stem and trunk widths, e.g. (64, 128, 256, 512).
    """

    def __init__(
        self, in_channels: tuple[int, ...], channels: tuple[int, ...], embed_dim: int, parts: int, num_classes: int
    ) -> None:
        super().__init__()
        if len(channels) != 4:
            raise ValueError(f"model.channels: expected 4 widths, got {list(channels)}")
        c0, c1, c2, c3 = channels
        self.stems = nn.ModuleList([Stem(c_in, c0) for c_in in in_channels])
        self.fusion = AttentionFusion(c0, sources=len(in_channels)) if len(in_channels) > 1 else None
        self.trunk = nn.Sequential(BasicBlock(c0, c1, 2), BasicBlock(c1, c2, 2), BasicBlock(c2, c3, 1))
        self.parts = parts
        self.fcs = SeparateFCs(parts, c3, embed_dim)
        self.bnneck = BNNeck(parts, embed_dim, num_classes)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Released init: conv / linear xavier-uniform (bias 0); affine BN weight N(1, 0.02), bias 0."""
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)) and m.affine:
                nn.init.normal_(m.weight, 1.0, 0.02)
                nn.init.zeros_(m.bias)

    def forward(
        self, sources: list[Tensor], n: int, seq_lengths: Tensor | None = None, trace: dict | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """sources: per-frame maps ``[n*s, C_i, h, w]`` (frame index = seq*s + t).

        Returns (embeddings ``[n_out, embed, p]``, bnneck ``[n_out, embed, p]``,
        logits ``[n_out, classes, p]``); ``trace`` (if given) receives ``tp_feat`` and ``hpp_feat``.
        """
        feats = [stem(x) for stem, x in zip(self.stems, sources)]  # each [ns, c0, h, w]
        x = self.fusion(feats) if self.fusion is not None else feats[0]
        x = self.trunk(x)  # [ns, c3, h/4, w/4]
        ns, c, h, w = x.shape
        x = x.view(n, ns // n, c, h, w).transpose(1, 2)  # [n, c3, s, h', w']
        tp = temporal_max(x, seq_lengths)  # [n_out, c3, h', w']
        hpp = horizontal_pooling(tp, self.parts)  # [n_out, c3, p]
        emb = self.fcs(hpp)  # [n_out, embed, p]
        bn, logits = self.bnneck(emb)
        if trace is not None:
            trace.update(tp_feat=tp, hpp_feat=hpp)
        return emb, bn, logits
