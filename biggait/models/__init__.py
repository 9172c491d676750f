"""BigGait models: frozen DINOv2 upstream (timm), GRE, GaitBase downstream, checkpoints, efficiency."""

from biggait.models.biggait import BigGait, ModelOutput, SilhouetteGaitBase, build_model
from biggait.models.checkpoints import (load_checkpoint, load_model, load_opengait_state_dict,
                                         save_checkpoint)

__all__ = ["BigGait", "ModelOutput", "SilhouetteGaitBase", "build_model", "load_checkpoint", "load_model",
           "load_opengait_state_dict", "save_checkpoint"]
