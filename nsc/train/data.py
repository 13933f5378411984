"""Training data: speech from a manifest, random crops at the codec's sample rate.

The manifest format is that of ``../shared/data/speech/manifest.csv``
(columns path, source, speaker, language, sample_rate, seconds, split; paths
relative to the manifest's folder). Every file of a split is decoded once,
mixed to mono and resampled with soxr to the model rate, then kept in memory
(105 minutes at 16 kHz is 400 MB of float32).
"""

from __future__ import annotations

import csv
import math
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
import torch

__all__ = ["Utterance", "read_manifest", "load_split", "CropSampler"]


@dataclass
class Utterance:
    """One decoded file: float32 mono audio [T] at the model rate."""

    path: str
    speaker: str
    audio: np.ndarray


def read_manifest(manifest: str | Path, split: str) -> list[dict]:
    """Rows of ``manifest`` whose ``split`` column equals ``split``, sorted by path.

    Raises:
        FileNotFoundError: the manifest does not exist.
    """
    manifest = Path(manifest)
    if not manifest.exists():
        raise FileNotFoundError(f"manifest {manifest} not found")
    with open(manifest, newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["split"] == split]
    return sorted(rows, key=lambda r: r["path"])


def load_split(manifest: str | Path, split: str, sample_rate: int, limit: int = 0) -> list[Utterance]:
    """Decode every file of a split, mixed to mono and resampled to ``sample_rate`` Hz (soxr HQ)."""
    root = Path(manifest).parent
    rows = read_manifest(manifest, split)
    if limit:
        rows = rows[:limit]
    out = []
    for r in rows:
        audio, sr = sf.read(root / r["path"], dtype="float32", always_2d=True)
        audio = audio.mean(axis=1)
        if sr != sample_rate:
            audio = soxr.resample(audio, sr, sample_rate, quality="HQ").astype(np.float32)
        out.append(Utterance(r["path"], r["speaker"], audio))
    return out


class CropSampler:
    """Draws batches of random crops with light augmentation.

    Each crop: a file picked with probability proportional to its length, a
    random window of ``segment`` samples (speed-perturbed: a window of
    segment x factor samples resampled to ``segment``), a random gain of
    +-``gain_db`` dB, peak-limited to 0.99. Near-silent crops are redrawn.

    Returns float32 tensors [B, 1, segment].
    """

    def __init__(self, utterances: list[Utterance], segment: int, batch_size: int, gain_db: float = 10.0,
                 speed: float = 0.05, seed: int = 0) -> None:
        if not utterances:
            raise ValueError("no training audio")
        self.utts = utterances
        self.segment = segment
        self.batch_size = batch_size
        self.gain_db = gain_db
        self.speed = speed
        self.rng = random.Random(seed)
        lengths = np.array([len(u.audio) for u in utterances], dtype=np.float64)
        self.cum = np.cumsum(lengths / lengths.sum())

    def _crop(self) -> np.ndarray:
        for _ in range(20):
            u = self.utts[min(int(np.searchsorted(self.cum, self.rng.random())), len(self.utts) - 1)]
            factor = 1.0 + self.rng.uniform(-self.speed, self.speed) if self.speed else 1.0
            span = int(math.ceil(self.segment * factor))
            a = u.audio
            if len(a) < span:
                a = np.pad(a, (0, span - len(a)))
            start = self.rng.randint(0, len(a) - span)
            x = a[start : start + span]
            if span != self.segment:
                x = soxr.resample(x, span, self.segment, quality="QQ")
                x = np.pad(x, (0, max(0, self.segment - len(x))))[: self.segment]
            if np.sqrt(np.mean(x**2)) > 10 ** (-50 / 20):
                break
        gain = 10 ** (self.rng.uniform(-self.gain_db, self.gain_db) / 20)
        x = x * gain
        peak = np.abs(x).max()
        if peak > 0.99:
            x = x * (0.99 / peak)
        return x.astype(np.float32)

    def batch(self) -> torch.Tensor:
        """One batch, float32 [B, 1, segment]."""
        return torch.from_numpy(np.stack([self._crop() for _ in range(self.batch_size)]))[:, None, :]

    def state(self) -> object:
        """RNG state (stored in checkpoints)."""
        return self.rng.getstate()

    def set_state(self, state: object) -> None:
        """Restore an RNG state from :meth:`state`."""
        self.rng.setstate(state)
