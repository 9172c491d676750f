"""Files: atomic writes, reading JSON / YAML / npz inputs with one-line errors, the provenance every
output records (git commit, package versions) and the one convention for numbers in CSV files
(6 decimals at most, NaN as an empty cell)."""

from __future__ import annotations

import contextlib
import csv
import importlib.metadata
import io
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import yaml

from biggait.errors import BigGaitError, DataError

_PACKAGES = ("torch", "torchvision", "timm", "numpy", "scipy", "opencv-python-headless", "snakemake")


@contextlib.contextmanager
def atomic_path(dest: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``dest``; rename it onto ``dest`` only on success.

    Works for files and directories: whatever is written to the yielded path replaces ``dest``
    in one rename, so an interrupted or failed step leaves nothing partial behind.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
    target = tmp / dest.name
    try:
        yield target
        if target.exists():
            if dest.is_dir() and not dest.is_symlink():
                shutil.rmtree(dest)
            os.replace(target, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200] or type(exc).__name__


def _existing(path: str | Path, what: str, error: type[BigGaitError]) -> Path:
    path = Path(path)
    if not path.is_file():
        raise error(f"{path}: {what} file not found")
    return path


def read_json(path: str | Path, what: str, error: type[BigGaitError] = DataError) -> object:
    """Parse a JSON input; ``error`` naming the file when it is missing or unreadable.

    ``what`` names the file in messages: ``"{path}: partition file not found"``.
    """
    path = _existing(path, what, error)
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise error(f"{path}: not a readable {what} file ({_one_line(exc)})") from None


def read_yaml(path: str | Path, what: str, error: type[BigGaitError] = DataError) -> object:
    """Parse a YAML input (safe loader); ``error`` naming the file when it is missing or unreadable."""
    path = _existing(path, what, error)
    try:
        return yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise error(f"{path}: not a readable {what} file ({_one_line(exc)})") from None


def read_npz(path: str | Path, what: str, error: type[BigGaitError] = DataError) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` (no pickles); ``error`` naming the file when missing or unreadable."""
    path = _existing(path, what, error)
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise error(f"{path}: not a readable {what} file ({_one_line(exc)})") from None


def write_text_atomic(dest: str | Path, text: str) -> None:
    with atomic_path(dest) as tmp:
        tmp.write_text(text)


def write_json_atomic(dest: str | Path, obj: object) -> None:
    write_text_atomic(dest, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def git_commit(repo: Path | None = None) -> str:
    """The current git commit of the project (``unknown`` outside a git checkout).

    Without ``repo``: the checkout the package runs from; ``unknown`` for a non-editable install
    (no pyproject.toml beside the package), even when its site-packages lies inside some git tree.
    """
    if repo is None:
        repo = Path(__file__).resolve().parent.parent
        if not (repo / "pyproject.toml").is_file():
            return "unknown"
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=repo,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    if out.returncode != 0:
        return "unknown"
    return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def package_versions() -> dict[str, object]:
    """Python and package versions, plus what torch sees of CUDA (build, cuDNN, driver, GPU names)."""
    versions: dict[str, object] = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    versions.update(cuda_versions())
    return versions


def cuda_versions() -> dict[str, object]:
    """torch's CUDA build, cuDNN, the driver and the visible GPUs' names (None where there is none).
    Imports torch only when the caller already has (no CUDA facts are worth a torch import)."""
    torch = sys.modules.get("torch")
    if torch is None:
        return {}
    info: dict[str, object] = {"torch_cuda": torch.version.cuda, "cudnn": None, "cuda_driver": None, "gpus": []}
    try:
        if torch.cuda.is_available():
            info["cudnn"] = torch.backends.cudnn.version()
            info["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
            info["cuda_driver"] = _driver_version()
    except Exception as exc:  # noqa: BLE001 - a broken driver must not stop a run from starting
        info["cuda_error"] = str(exc)
    return info


def _driver_version() -> str | None:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        out = subprocess.run(
            [exe, "--query-gpu=driver_version", "--format=csv,noheader"], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else None


def write_run_info(run_dir: str | Path, config_yaml: str) -> None:
    """Write ``config.yaml`` (the resolved experiment), ``git_commit.txt`` and ``versions.json``."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(run_dir / "config.yaml", config_yaml)
    write_text_atomic(run_dir / "git_commit.txt", git_commit() + "\n")
    write_json_atomic(run_dir / "versions.json", package_versions())


def csv_value(v: object) -> str:
    """A CSV field: floats with at most 6 decimals (trailing zeros dropped), NaN / None as empty."""
    if v is None:
        return ""
    if isinstance(v, float):
        return "" if math.isnan(v) else f"{v:.6f}".rstrip("0").rstrip(".")
    return str(v)


def parse_number(text: str | None, where: str) -> float:
    """Read a CSV number written by :func:`csv_value` (empty -> NaN); DataError naming ``where``."""
    if text is None or str(text).strip() == "":
        return math.nan
    try:
        return float(text)
    except ValueError:
        raise DataError(f"{where}: expected a number, got {text!r}") from None


def csv_text(header: Iterable[object], rows: Iterable[Iterable[object]]) -> str:
    """A whole CSV file as text: the header, then one line per row, every field through :func:`csv_value`."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows([csv_value(v) for v in r] for r in rows)
    return buf.getvalue()
