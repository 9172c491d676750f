"""Training: the loop (:mod:`~biggait.train.loop`), resume state and trainer checkpoints
(:mod:`~biggait.train.state`), DDP helpers (:mod:`~biggait.train.distributed`) and ``biggait train``
(:mod:`~biggait.train.cli`)."""
