"""CPU kernels that give the same float32 results on every x86-64 CPU (the demo and CI scales).

A 120-step CPU training turns any change in rounding into another draw of the result, and three
libraries inside torch round differently by CPU (measured on one machine by switching their ISA
knobs as stand-ins for another CPU; docs/workflow.md, "Reproducibility across CPUs"):

* **MKL** (matmul, ``nn.Linear``, attention's GEMMs, the native convolution's GEMM) dispatches by
  CPU vendor and ISA: AVX-512 kernels on an Intel Xeon, AVX2 ones on AMD. Its conditional numerical
  reproducibility mode ``MKL_CBWR`` pins the code path, but only the ``COMPATIBLE`` branch is honoured
  on non-Intel CPUs (``MKL_CBWR=AVX2`` silently runs the ``AUTO`` branch there: ``MKL_VERBOSE=1`` says
  ``CNR:AUTO`` on an AMD EPYC), so that is the branch used.
* **ATen's vectorised kernels** (LayerNorm, softmax, GELU, reductions, the CPU attention kernel) are
  compiled per ISA and picked at run time: ``ATEN_CPU_CAPABILITY=avx2`` picks the AVX2 build on every
  CPU that has it (every x86-64 server CPU since 2013).
* **oneDNN** (``conv2d``, GELU) chooses its kernels by ISA and its blocking by cache size. It is
  switched off (``torch.backends.mkldnn.enabled = False``): convolutions then run as ATen's im2col and
  MKL GEMM, both pinned above.

The thread count must be fixed too (the workflow's ``threads:``; a sum over 2 threads differs from
one over 1). These settings are read when torch loads, so :func:`pin` runs before the first
``import torch``: the ``biggait`` command does it itself (:func:`biggait.cli.main`) when
``BIGGAIT_CPU_KERNELS=reproducible``; the mode is exported to child processes.

**Opt-in for now.** Measured on an AMD EPYC (Zen 4, 2026-12-06, one thread), a demo training step
costs 144 -> 309 ms (BigGait) and 28 -> 73 ms (GaitBase) with all three pinned, 231 / 33 ms with
oneDNN capped at AVX2 instead of switched off: the demo would run past its 15 minutes, so the default
stays ``native`` until the demo's budget allows it (docs/workflow.md, "Reproducibility across CPUs").
"""

from __future__ import annotations

import os
import sys

MODE_ENV = "BIGGAIT_CPU_KERNELS"
REPRODUCIBLE, NATIVE = "reproducible", "native"
# Read by MKL and ATen when torch loads. MKL_DYNAMIC=FALSE: MKL never lowers the thread count by itself.
REPRODUCIBLE_ENV = {"MKL_CBWR": "COMPATIBLE", "ATEN_CPU_CAPABILITY": "avx2", "MKL_DYNAMIC": "FALSE"}


def requested_mode() -> str:
    """``$BIGGAIT_CPU_KERNELS`` (``reproducible`` or ``native``, the default)."""
    env = os.environ.get(MODE_ENV, "").strip().lower() or NATIVE
    if env not in (REPRODUCIBLE, NATIVE):
        from biggait.errors import ConfigError

        raise ConfigError(f"{MODE_ENV}={os.environ[MODE_ENV]!r}: expected {REPRODUCIBLE} or {NATIVE}")
    return env


def pin(mode: str = REPRODUCIBLE) -> None:  # noqa: D401
    """Set the kernel environment of ``mode`` for this process and its children (before torch loads).

    Once torch is loaded, MKL and ATen have read their settings: pinning then only switches oneDNN,
    and a mismatch with what torch loaded under is an error, never a silent half-pinned run.
    """
    os.environ[MODE_ENV] = mode
    if mode == REPRODUCIBLE:
        if "torch" in sys.modules and any(os.environ.get(k) != v for k, v in REPRODUCIBLE_ENV.items()):
            from biggait.errors import BigGaitError

            raise BigGaitError(
                f"reproducible CPU kernels must be set before torch is imported "
                f"(set {MODE_ENV}=native to run with the native ones)"
            )
        os.environ.update(REPRODUCIBLE_ENV)
    apply_torch_flags()


def apply_torch_flags() -> None:
    """Switch oneDNN off in reproducible mode, if torch is loaded (idempotent; called again where a job
    resolves its device, for torch imported after :func:`pin`)."""
    torch = sys.modules.get("torch")
    if torch is not None and os.environ.get(MODE_ENV) == REPRODUCIBLE:
        torch.backends.mkldnn.enabled = False


def describe() -> dict[str, str]:
    """What this process runs with, for a run's provenance: the mode, the pinned variables, the CPU."""
    out = {"mode": os.environ.get(MODE_ENV, NATIVE)}
    out.update({k: os.environ.get(k, "") for k in REPRODUCIBLE_ENV})
    torch = sys.modules.get("torch")
    if torch is not None:
        out["onednn"] = "on" if torch.backends.mkldnn.enabled else "off"
        out["aten_capability"] = torch.backends.cpu.get_cpu_capability()
    out["cpu"] = cpu_model()
    return out


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), or ``unknown``."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"
