"""Shared by the BiggerGait tests (not a test module): where the BiggerGait goldens are, and the gate of the
slow full-parity runs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from biggait.parity.golden import default_golden_dir

# The whole golden folder takes minutes on 2 CPU cores (a 97-frame case, four training steps): it runs where
# BIGGAIT_FULL_PARITY or BIGGAIT_REQUIRE_GOLDEN (CI) is set; `biggait selfcheck` runs it too.
FULL = bool(os.environ.get("BIGGAIT_FULL_PARITY") or os.environ.get("BIGGAIT_REQUIRE_GOLDEN"))
full_parity = pytest.mark.skipif(
    not FULL,
    reason="SLOW FULL BIGGERGAIT PARITY SKIPPED: set BIGGAIT_FULL_PARITY=1 "
    "(or run `biggait selfcheck --golden-dir <golden>/biggergait`)",
)


def golden_folder() -> Path:
    """``<golden>/biggergait`` (BIGGAIT_GOLDEN_DIR or ../shared/golden/opengait); skipped loudly when absent
    (failed when BIGGAIT_REQUIRE_GOLDEN is set). The test modules' ``biggergait_dir`` fixture."""
    d = default_golden_dir() / "biggergait"
    if not (d / "manifest.json").is_file():
        msg = f"BIGGERGAIT GOLDEN VECTORS NOT FOUND at {d}: set BIGGAIT_GOLDEN_DIR to run the BiggerGait parity tests"
        if os.environ.get("BIGGAIT_REQUIRE_GOLDEN"):
            pytest.fail(msg)
        pytest.skip(msg)
    return d
