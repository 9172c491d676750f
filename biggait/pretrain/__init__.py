"""Self-supervised pretraining of the demo's tiny upstream ViTs on SynthGait frames.

No pretrained DINOv2 can be fetched where the demo runs, so the demo's upstream learns by itself,
like DINOv2 did: from unlabelled frames only (no silhouettes, no masks, no identities). The
objective (:mod:`biggait.pretrain.mae`) is masked-image modelling plus a time-contrastive term
between two frames of a sequence, picked by measurement (docs/performance.md, "The demo's
upstream"). ``biggait pretrain-lvm`` (:mod:`biggait.pretrain.cli`)
writes the weights in the official Meta DINOv2 layout, so the BigGait model loads them exactly
like a real checkpoint (``model.lvm_checkpoint``), plus a provenance JSON.
"""
