"""Metric functions on known answers: identical signals, silence, growing degradation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nsc.eval import metrics as M


def vowel(seconds: float = 2.0, sample_rate: int = 8000, seed: int = 0) -> np.ndarray:
    """A harmonic 'vowel' (f0 gliding 110-150 Hz, 20 harmonics) with a syllable-rate AM envelope and pauses."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sample_rate)
    t = np.arange(n) / sample_rate
    f0 = 130 + 20 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    nyq = sample_rate / 2
    x = sum(np.sin(k * phase) / k * (k * 150 < nyq) for k in range(1, 21))
    env = np.clip(np.sin(2 * np.pi * 2.5 * t), 0, None) ** 0.7  # 4 Hz syllables with silent gaps
    x = x * env + 1e-4 * rng.standard_normal(n)
    return (0.3 * x / np.max(np.abs(x))).astype(np.float64)


def noisy(x: np.ndarray, snr_db: float, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal(len(x))
    noise *= np.sqrt(np.mean(x**2) / np.mean(noise**2)) * 10 ** (-snr_db / 20)
    return x + noise


@pytest.mark.parametrize("rate,mode", [(8000, "nb"), (16000, "wb")])
def test_pesq_identical_is_max(rate, mode):
    x = vowel(sample_rate=rate)
    assert M.pesq_mode(rate) == mode
    assert M.pesq_score(x, x, rate) == pytest.approx(M.PESQ_MAX[mode], abs=0.01)


def test_pesq_falls_with_noise_and_rejects_other_rates():
    x = vowel()
    scores = [M.pesq_score(x, noisy(x, snr), 8000) for snr in (30, 15, 0)]
    assert scores[0] > scores[1] > scores[2] > 0.9
    with pytest.raises(ValueError, match="8000 or 16000"):
        M.pesq_score(x, x, 22050)


def test_pesq_silence_is_nan():
    x = vowel()
    assert math.isnan(M.pesq_score(x, np.zeros_like(x), 8000))


def test_stoi_identical_silence_and_noise():
    x = vowel()
    assert M.stoi_score(x, x, 8000) == pytest.approx(1.0, abs=1e-6)
    assert M.stoi_score(x, np.zeros_like(x), 8000) < 0.05
    assert M.stoi_score(x, noisy(x, 20), 8000) > M.stoi_score(x, noisy(x, -5), 8000)
    assert math.isnan(M.stoi_score(np.zeros_like(x), x, 8000))


def test_lsd_identical_zero_and_silence_large():
    x = vowel()
    assert M.log_spectral_distance(x, x, 8000) == 0.0
    assert M.log_spectral_distance(x, noisy(x, 30), 8000) < M.log_spectral_distance(x, noisy(x, 0), 8000)
    assert M.log_spectral_distance(x, np.zeros_like(x), 8000) > 15.0  # vs the -100 dB floor


def test_lsd_known_answer_for_a_gain():
    # A gain g changes every bin's log power by 20 log10 g dB, so LSD = |20 log10 g| (up to the floor).
    x = vowel() + 0.01 * np.random.default_rng(3).standard_normal(16000)
    assert M.log_spectral_distance(x, 0.5 * x, 8000) == pytest.approx(20 * np.log10(2), abs=0.05)


@pytest.mark.skipif(not M.visqol_available(), reason="visqol-python not installed")
def test_visqol_identical_high_noise_lower():
    x = vowel(seconds=3.0, sample_rate=16000)
    same = M.visqol_score(x, x, 16000)
    worse = M.visqol_score(x, noisy(x, 5), 16000)
    assert same > 4.0
    assert worse < same
    assert M.visqol_mapper() in ("lattice", "polynomial")


def test_visqol_missing_gives_nan(monkeypatch):
    monkeypatch.setattr(M, "visqol_available", lambda: False)
    assert math.isnan(M.visqol_score(vowel(), vowel(), 8000))


def test_bitrate_arithmetic():
    b = M.Bitrate(payload_bits=4800, file_bits=4856, duration_s=4.0, nominal_kbps=1.2)
    assert b.payload_kbps == pytest.approx(1.2)
    assert b.file_kbps == pytest.approx(1.214)


def test_codebook_usage_known_answers():
    uniform = np.arange(256).reshape(1, 256)  # every entry once
    single = np.zeros((1, 100), dtype=np.int64)
    both = [np.stack([uniform[0], np.zeros(256, np.int64)])]
    u = M.codebook_usage(both, (256, 256))
    assert u[0].utilisation == 1.0 and u[0].perplexity == pytest.approx(256.0) and u[0].entropy_bits == pytest.approx(8.0)
    assert u[1].n_used == 1 and u[1].perplexity == pytest.approx(1.0) and u[1].entropy_bits == 0.0
    two = M.codebook_usage([single, np.ones((1, 100), np.int64)], (4,))[0]  # over two files: half 0, half 1
    assert two.n_codes == 200 and two.utilisation == 0.5 and two.perplexity == pytest.approx(2.0)
