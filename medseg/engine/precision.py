"""``cpu_bf16``: which precision a run gets when ``trainer.precision`` is unset and it trains on a CPU.

``never`` (the default): Lightning's default, full float32. ``native``: ``bf16-mixed`` when the CPU computes bf16
natively (AVX-512 BF16 or AMX-BF16: oneDNN's bf16 convolutions), float32 elsewhere — on CPUs without them bf16 is
emulated and slower than float32. On a 2-core AVX-512-BF16 CPU the demo recipe's fit took 0.82x the float32 time at
equal held-out Dice (3 seeds, benchmarks/RESULTS.md, issue 24). An explicit ``trainer.precision`` always wins, and
a run on a GPU is never changed. fit, test and predict resolve it here, so a checkpoint is evaluated under the
precision it was trained with on the same machine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

CPU_BF16_CHOICES = ("never", "native")
NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")  # /proc/cpuinfo names (Linux)
ISA_FLAGS = (*NATIVE_BF16_FLAGS, "avx512f", "avx2")


def _cpuinfo_field(name: str, cpuinfo: Optional[str]) -> Optional[str]:
    """The value of the first ``name`` line of ``/proc/cpuinfo`` (or of ``cpuinfo``, its text); None where there
    is none (not Linux)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == name:
            return value.strip()
    return None


def cpu_flags(cpuinfo: Optional[str] = None) -> set[str]:
    """The CPU's feature flags: the first ``flags`` line of ``/proc/cpuinfo`` (or of ``cpuinfo``, its text);
    empty where there is none (not Linux)."""
    return set((_cpuinfo_field("flags", cpuinfo) or "").split())


def cpu_model(cpuinfo: Optional[str] = None) -> str:
    """The CPU's ``model name`` from ``/proc/cpuinfo`` (or ``cpuinfo``); ``unknown`` where there is none."""
    return _cpuinfo_field("model name", cpuinfo) or "unknown"


def cpu_isa(flags: Optional[set[str]] = None) -> list[str]:
    """The vector extensions that set CPU training speed here, of :data:`ISA_FLAGS`, in that order (benchmarks
    record them beside their timings)."""
    flags = cpu_flags() if flags is None else flags
    return [f for f in ISA_FLAGS if f in flags]


def native_cpu_bf16(flags: Optional[set[str]] = None) -> bool:
    """True when the CPU has AVX-512 BF16 or AMX-BF16."""
    return bool(set(NATIVE_BF16_FLAGS) & (cpu_flags() if flags is None else flags))


def check_cpu_bf16(policy: Any) -> str:
    if policy is None:
        return "never"
    if policy not in CPU_BF16_CHOICES:
        raise ValueError(f"cpu_bf16 must be one of {', '.join(CPU_BF16_CHOICES)}, got {policy!r}")
    return str(policy)


def resolve_precision(precision: Any, policy: Any, on_cpu: bool, native: Optional[bool] = None) -> Any:
    """The precision a run uses: ``precision`` when set; else ``bf16-mixed`` if ``policy`` is ``native``, the run
    is on a CPU and that CPU has native bf16 (``native``, default :func:`native_cpu_bf16`); else None (float32)."""
    policy = check_cpu_bf16(policy)
    if precision is not None or policy == "never" or not on_cpu:
        return precision
    return "bf16-mixed" if (native_cpu_bf16() if native is None else native) else None


def trains_on_cpu(accelerator: Any) -> bool:
    """Whether Lightning's ``accelerator`` puts the run on the CPU (``auto``/None: when no CUDA or MPS device)."""
    if accelerator is not None and not isinstance(accelerator, str):  # an Accelerator instance
        return type(accelerator).__name__ == "CPUAccelerator"
    name = accelerator or "auto"
    if name == "auto":
        import torch

        mps = getattr(torch.backends, "mps", None)
        return not (torch.cuda.is_available() or (mps is not None and mps.is_available()))
    return name == "cpu"
