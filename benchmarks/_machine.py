"""Describe the machine a benchmark ran on, so every figure travels with it.

Any benchmark may import it (``from _machine import describe`` when run as
``python benchmarks/<script>.py``, whose folder is on ``sys.path``).
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

__all__ = ["cpu_model", "load_average", "gpu_name", "describe"]


def cpu_model() -> str:
    """CPU model name from /proc/cpuinfo (Linux), else what platform knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def load_average() -> str:
    """``"1.93 2.10 2.30"``: 1, 5 and 15 minute load averages, or ``"n/a"``."""
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def gpu_name() -> str | None:
    """Name of CUDA device 0, or None without a GPU."""
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None


def describe(threads: str | int | None = None) -> str:
    """One line: CPU model, logical CPUs, torch version and threads, Python, GPU, load average.

    Args:
        threads: the torch thread count(s) the figures used, e.g. ``"1 and 2"``;
            default ``torch.get_num_threads()``.

    The load average is read now, so print it with each set of figures: on a
    busy machine (load above the CPU count) the speeds are lower bounds.
    """
    import torch

    n_cpu = os.cpu_count() or 1
    load = load_average()
    busy = ""
    try:
        if os.getloadavg()[0] > 0.5 * n_cpu:
            busy = " (machine busy: figures are lower bounds)"
    except OSError:
        pass
    gpu = gpu_name()
    return (
        f"{cpu_model()}, {n_cpu} logical CPUs, torch {torch.__version__} "
        f"({threads if threads is not None else torch.get_num_threads()} threads), Python {platform.python_version()}, "
        f"{'GPU ' + gpu if gpu else 'no GPU'}; load average {load}{busy}"
    )


if __name__ == "__main__":
    print(describe())
