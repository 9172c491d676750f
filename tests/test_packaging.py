"""A non-editable install (``pip install .``, a wheel) works where it can and says clearly what it lacks.

The wheel holds the ``biggait`` package only. ``config/`` (experiments, scale overlays, claims.yaml,
paper_reported.csv), the Snakefile and ``workflow/`` stay in the repository: the overlays' paths point
into the checkout (``results/``, ``data/``, ``checkpoints/``), so a copy inside site-packages would
be wrong, not merely stale. A command that needs them fails with one line naming what is missing;
none falls back to the defaults (a silent change of scale).

The test builds the wheel from a copy of the sources (no network: ``--no-build-isolation``) and
installs it into a fresh virtual environment that borrows the test environment's installed
dependencies through a ``.pth`` line (so it needs no torch download). Entries of that borrowed
folder's own ``.pth`` files (the editable install of this checkout) are not processed, so
``import biggait`` there is the wheel's copy.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = (
    pytest.mark.slow
)  # builds a wheel and a virtual environment, runs the CLI 6 times (~50 s on 2 shared cores)


def _run(cmd: list, cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    return subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def wheel_install(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the wheel, the bin/ folder of a fresh venv where it is installed)."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(ROOT / "biggait", src / "biggait", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = _run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", tmp / "dist", src],
        cwd=tmp,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    (wheel,) = (tmp / "dist").glob("biggait-*.whl")

    venv = tmp / "venv"
    out = _run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=tmp)
    assert out.returncode == 0, out.stdout + out.stderr
    out = _run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            venv / "bin" / "python",
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            wheel,
        ],
        cwd=tmp,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    purelib = _run(
        [venv / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=tmp
    ).stdout.strip()
    (Path(purelib) / "_borrowed_deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    return wheel, venv / "bin"


def test_wheel_holds_the_package_only(wheel_install):
    wheel, _ = wheel_install
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        meta = z.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert all(n.startswith(("biggait/", "biggait-")) for n in names), [n for n in names if "/" not in n]
    assert "biggait/config.py" in names and not any(n.startswith("config/") for n in names)
    assert "Requires-Python: >=3.11" in meta
    assert any(line.replace(" ", "").startswith("Requires-Dist:snakemake[reports]") for line in meta.splitlines())


def test_wheel_imports_its_own_copy_and_reports_its_version(wheel_install, tmp_path):
    _, bin_dir = wheel_install
    out = _run([bin_dir / "python", "-c", "import biggait; print(biggait.__file__)"], cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert Path(out.stdout.strip()).is_relative_to(bin_dir.parent), out.stdout  # not this checkout's copy
    out = _run([bin_dir / "biggait", "--version"], cwd=ROOT)
    assert out.returncode == 0 and out.stdout.strip() == "biggait 0.1.0", out.stdout + out.stderr  # no git commit


@pytest.mark.parametrize(
    "argv",
    [
        ["train", ROOT / "config" / "experiments" / "biggait_ccpg.yaml", "--scale", "demo", "--out", "{tmp}/run"],
        [
            "train",
            ROOT / "config" / "experiments" / "biggait_ccpg.yaml",
            "--out",
            "{tmp}/run",
        ],  # scale: the file's, else paper
        ["pretrain-lvm", "--data", "ccpg={tmp}/root:{tmp}/part.json", "--out", "{tmp}/v.pth"],
        ["claims", "{tmp}"],
    ],
    ids=["train-demo", "train-default-scale", "pretrain-lvm", "claims"],
)
def test_commands_needing_the_repository_say_so(wheel_install, tmp_path, argv):
    """Run from the checkout (a user who ran `pip install .` in the clone): still one clear line, exit 2,
    and nothing written (no training at the defaults' scale)."""
    _, bin_dir = wheel_install
    (tmp_path / "root").mkdir()  # the paths given exist: the command line is valid, only the repository is missing
    (tmp_path / "part.json").write_text("{}")
    out = _run([bin_dir / "biggait", *[str(a).format(tmp=tmp_path) for a in argv]], cwd=ROOT)
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2, out.stdout + out.stderr
    assert len(lines) == 1 and lines[0].startswith(
        "error: biggait was installed without its repository (config/ not found at "
    ), out.stderr
    assert lines[0].endswith("clone the repository and `pip install -e .` there"), lines[0]
    assert not (tmp_path / "run").exists() and not (tmp_path / "v.pth").exists()


def test_commands_without_the_repository_work(wheel_install, tmp_path):
    """SynthGait's sizes live in the package: `biggait synth` runs from a wheel."""
    _, bin_dir = wheel_install
    out = _run(
        [
            bin_dir / "biggait",
            "synth",
            "--out",
            tmp_path / "sg",
            "--scale",
            "tiny",
            "--domains",
            "ccpg",
            "--workers",
            "1",
        ],
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert (tmp_path / "sg" / "ccpg.json").is_file()
