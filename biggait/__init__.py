"""biggait-repro: a clean re-implementation of BigGait (CVPR 2024) and its benchmark suite."""

__version__ = "0.1.0"
