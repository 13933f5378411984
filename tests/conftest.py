"""Shared fixtures: one CPU thread, a tiny random-init test codec, synthetic audio.

The tiny codec ``test-tiny`` (wire id 250, 8 kHz, hop 160, 3 x 256 codebooks,
1.2 kbit/s at 3 codebooks) is registered for the whole session. Tests that go
through the real weights-loading path use the ``tiny_weights`` fixture, which
saves the random-init model to a temporary folder and points
``NSC_WEIGHTS_DIR`` at it.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

torch.set_num_threads(1)
os.environ.setdefault("OMP_NUM_THREADS", "1")

from nsc.registry import CODECS, CodecSpec, register  # noqa: E402

#: Model config of the tiny test codec (see nsc/models/mscacodec.py's docstring).
TINY = {"preset": "tiny"}
try:  # the model module documents its own tiny config; prefer it when present
    from nsc.models import mscacodec as _msca

    TINY = dict(getattr(_msca, "TINY_CONFIG", TINY))
except Exception:  # pragma: no cover - model not landed yet
    pass

TINY_SPEC = CodecSpec(
    name="test-tiny",
    wire_id=250,
    family="MSCACodec",
    sample_rate=8000,
    hop_length=160,
    codebook_sizes=(256,) * 3,
    n_codebooks_options=(1, 2, 3),
    default_n_codebooks=3,
    builder="nsc.models.mscacodec:build",
    weights="test-tiny.safetensors",
    summary="test",
    paper="-",
)
if "test-tiny" not in CODECS:
    register(TINY_SPEC)

#: Where the shared real-speech corpus lives (absent on some machines).
SHARED = Path(__file__).parents[1].parent / "shared"
SPEECH = SHARED / "data" / "speech"


def make_tone(seconds: float = 0.5, sample_rate: int = 8000, channels: int = 0, seed: int = 0) -> np.ndarray:
    """Speech-like synthetic test signal: float32 [T] (channels=0) or [C, T], peak about 0.5."""
    rng = np.random.default_rng(seed)
    n = int(round(seconds * sample_rate))
    t = np.arange(n) / sample_rate
    f0 = 120 + 30 * np.sin(2 * np.pi * 3 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    x = sum(np.sin(k * phase) / k for k in range(1, 8)) * (0.5 + 0.5 * np.sin(2 * np.pi * 2 * t) ** 2)
    x = 0.25 * x + 0.02 * rng.standard_normal(n)
    x = x.astype(np.float32)
    if channels:
        return np.stack([x * (1 - 0.1 * c) for c in range(channels)]).astype(np.float32)
    return x


@pytest.fixture(scope="session")
def tiny_codec():
    """The random-init tiny codec (seed 0) on CPU, loaded once per session."""
    from nsc.codec import load_codec

    return load_codec("test-tiny", random_init=True, seed=0, config=TINY)


@pytest.fixture(scope="session")
def _tiny_weights_dir(tmp_path_factory, tiny_codec):
    from nsc.weights import save_weights

    d = tmp_path_factory.mktemp("weights")
    save_weights(tiny_codec.model.state_dict(), {"model": TINY}, d / "test-tiny.safetensors")
    return d


@pytest.fixture
def tiny_weights(_tiny_weights_dir, monkeypatch):
    """Point NSC_WEIGHTS_DIR at saved tiny weights; returns the folder."""
    monkeypatch.setenv("NSC_WEIGHTS_DIR", str(_tiny_weights_dir))
    return _tiny_weights_dir


@pytest.fixture
def tone():
    """0.5 s of speech-like audio at 8 kHz, float32 [T]."""
    return make_tone()


# --------------------------------------------------------------------------- CLI helpers


def run_nsc(*args, input: bytes | None = None):
    """Run ``nsc ARGS`` in-process with Typer's CliRunner; returns the Result
    (exit_code, stdout, stderr, stdout_bytes)."""
    from typer.testing import CliRunner

    from nsc.cli import app

    return CliRunner().invoke(app, [str(a) for a in args], input=input, catch_exceptions=False)


def write_wav(path: Path, seconds: float = 0.5, sample_rate: int = 8000, channels: int = 0, **kw) -> Path:
    """Write a synthetic speech-like audio file (soundfile keywords pass through) and return its path."""
    import soundfile as sf

    x = make_tone(seconds, sample_rate, channels=channels)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, x.T if x.ndim == 2 else x, sample_rate, **kw)
    return path


def no_partials(folder: Path) -> bool:
    """True when no temporary ``.*.part`` output is left anywhere under ``folder``."""
    return not list(folder.rglob(".*.part"))
