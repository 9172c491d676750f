"""BigGait models: frozen DINOv2 upstream (timm), GRE, GaitBase downstream, losses, our checkpoint
format (:mod:`checkpoints`) and foreign weights (:mod:`weights`: Meta DINOv2, OpenGait)."""

from biggait.models.biggait import BigGait, ModelOutput, SilhouetteGaitBase, build_model
from biggait.models.checkpoints import load_checkpoint, load_model, save_checkpoint
from biggait.models.weights import load_opengait_state_dict

__all__ = [
    "BigGait",
    "ModelOutput",
    "SilhouetteGaitBase",
    "build_model",
    "load_checkpoint",
    "load_model",
    "load_opengait_state_dict",
    "save_checkpoint",
]
