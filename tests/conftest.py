"""Shared fixtures. Golden tests find the vectors in ../shared/golden/opengait or $BIGGAIT_GOLDEN_DIR;
they skip loudly only when the folder is absent and BIGGAIT_REQUIRE_GOLDEN is unset (CI sets it)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import torch

from biggait.parity.golden import WEIGHTS_NAME, default_golden_dir

torch.set_num_threads(2)  # the goldens were made with 2 threads; results are exact at that count


@pytest.fixture(autouse=True)
def _dag_tests_are_marked(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A test that starts a Snakemake process must carry the ``dag`` mark, so that ``make test-fast``
    (``-m "not dag"``) really runs none: an unmarked test that tries fails here, in either lane."""
    if request.node.get_closest_marker("dag"):
        return
    popen_init = subprocess.Popen.__init__

    def guarded(self, args, *a, **kw):
        first = args if isinstance(args, (str, os.PathLike)) else (args[0] if args else "")
        if Path(str(first).split()[0] if isinstance(first, str) else first).name == "snakemake":
            pytest.fail(f"{request.node.nodeid} starts Snakemake: mark it @pytest.mark.dag")
        popen_init(self, args, *a, **kw)

    monkeypatch.setattr(subprocess.Popen, "__init__", guarded)


@pytest.fixture(scope="session")
def golden_dir() -> Path:
    d = default_golden_dir()
    if not d.is_dir():
        msg = f"GOLDEN VECTORS NOT FOUND at {d}: set BIGGAIT_GOLDEN_DIR to run the parity tests"
        if os.environ.get("BIGGAIT_REQUIRE_GOLDEN"):
            pytest.fail(msg)
        pytest.skip(msg)
    return d


@pytest.fixture(scope="session")
def golden_weights(golden_dir: Path) -> Path:
    w = golden_dir / WEIGHTS_NAME
    if not w.exists():
        pytest.fail(f"{w} missing from the golden folder")
    return w


@pytest.fixture(scope="session")
def ci_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The results folder of the reduced CI DAG (config/ci.yaml), run once per session."""
    from tests.ci_dag import run_ci_dag

    res = tmp_path_factory.mktemp("ci") / "results"
    out = run_ci_dag(res)
    if out.returncode != 0:
        pytest.fail("the CI DAG failed:\n" + out.stdout[-3000:])
    return res
