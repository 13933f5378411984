"""Helpers shared by the CLI tests (not a test module)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
from conftest import make_tone
from typer.testing import CliRunner

from nsc.cli import app

runner = CliRunner()


def nsc(*args: str, input: bytes | None = None):
    """Run ``nsc ARGS`` in-process; returns click's Result (exit_code, stdout, stderr, stdout_bytes)."""
    return runner.invoke(app, [str(a) for a in args], input=input, catch_exceptions=False)


def wav(path: Path, seconds: float = 0.5, sample_rate: int = 8000, channels: int = 0, **kw) -> Path:
    """Write a synthetic speech-like WAV and return its path."""
    x = make_tone(seconds, sample_rate, channels=channels)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, x.T if x.ndim == 2 else x, sample_rate, **kw)
    return path


def no_partials(folder: Path) -> bool:
    """True when no temporary ``.*.part`` file is left anywhere under ``folder``."""
    return not list(folder.rglob(".*.part"))


__all__ = ["nsc", "wav", "no_partials", "np"]
