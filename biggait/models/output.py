"""What every model's forward returns (BigGait, GaitBase, BiggerGait; docs/interfaces.md): its own module so
that each model can import it without importing the others."""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import Tensor

__all__ = ["ModelOutput"]


@dataclass
class ModelOutput:
    """What a forward returns (docs/interfaces.md)."""

    embeddings: Tensor  # [n, embed_dim, parts] retrieval features
    logits: Tensor  # [n, num_classes, parts] cosine logits (not scaled)
    bnneck: Tensor  # [n, embed_dim, parts]
    aux: dict[str, Tensor] = field(default_factory=dict)  # raw auxiliary losses (training)
    maps: dict[str, Tensor] = field(default_factory=dict)  # only with return_maps=True
