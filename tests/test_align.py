"""Alignment: pure delays are undone exactly; vocoder-like outputs land within a step."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import istft, stft

from nsc.eval.align import align, apply_delay, estimate_delay
from test_metrics import vowel


@pytest.mark.parametrize("delay", [0, 1, 123, 481, -77])
def test_pure_delay_is_undone_exactly(delay):
    x = vowel(seconds=2.0)
    y = np.concatenate([np.zeros(delay), x]) if delay >= 0 else x[-delay:]
    aligned, info = align(x, y, 8000)
    assert info.delay == delay and info.refined
    assert aligned.shape == x.shape
    valid = slice(max(0, -delay), len(x))  # a leading output has nothing before its start
    np.testing.assert_allclose(aligned[valid], x[valid])
    assert not np.any(aligned[: max(0, -delay)])


def test_delay_with_noise_and_gain_at_16k():
    x = vowel(seconds=2.0, sample_rate=16000)
    rng = np.random.default_rng(5)
    y = 0.6 * np.concatenate([np.zeros(250), x]) + 0.003 * rng.standard_normal(len(x) + 250)
    assert estimate_delay(x, y, 16000).delay == 250


def test_waveform_free_output_aligns_on_envelopes():
    # Same magnitude spectrogram, random phase: no waveform correlation left (like a vocoder).
    x = vowel(seconds=3.0)
    _, _, z = stft(x, fs=8000, nperseg=256, noverlap=192)
    rng = np.random.default_rng(0)
    _, y = istft(np.abs(z) * np.exp(2j * np.pi * rng.random(z.shape)), fs=8000, nperseg=256, noverlap=192)
    y = np.concatenate([np.zeros(200), y])
    info = estimate_delay(x, y, 8000)
    assert not info.refined
    assert abs(info.delay - 200) <= 16  # one 2 ms envelope step


def test_silence_gives_zero_delay():
    x = vowel()
    assert estimate_delay(x, np.zeros_like(x), 8000).delay == 0
    assert estimate_delay(np.zeros(8000), x, 8000).delay == 0


def test_apply_delay_pads_and_trims():
    d = np.arange(1.0, 11.0)
    np.testing.assert_array_equal(apply_delay(d, 3, 5), [4, 5, 6, 7, 8])
    np.testing.assert_array_equal(apply_delay(d, 8, 5), [9, 10, 0, 0, 0])
    np.testing.assert_array_equal(apply_delay(d, -2, 4), [0, 0, 1, 2])
