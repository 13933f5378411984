"""nsc.postfilter: streaming equals one pass, what each filter does to a spectrum, and decode's switch."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from conftest import make_tone, run_nsc, write_wav

import nsc
from nsc.postfilter import FormantPostfilter, PitchPostfilter, PostfilterChain, apply, default_postfilter

SR = 8000


def _noisy_vowel(seconds: float = 1.0, f0: float = 125.0, snr_db: float = 6.0, seed: int = 0) -> np.ndarray:
    """A 125 Hz harmonic complex with white noise between the harmonics: float64 [T]."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    x = sum(np.sin(2 * np.pi * k * f0 * t + k) / k for k in range(1, 25) if k * f0 < SR / 2)
    noise = rng.standard_normal(len(t))
    noise *= np.sqrt(np.mean(x**2) / np.mean(noise**2)) * 10 ** (-snr_db / 20)
    return 0.2 * (x + noise) / np.max(np.abs(x + noise))


def _harmonic_to_gap_db(x: np.ndarray, f0: float = 125.0) -> float:
    """Mean energy of the harmonics' bins over that of the bins within 10 Hz of the gaps' middles (dB)."""
    seg = x[len(x) // 4 : 3 * len(x) // 4]
    spec = np.abs(np.fft.rfft(seg * np.hanning(len(seg)))) ** 2
    freqs = np.fft.rfftfreq(len(seg), 1 / SR)
    ks = range(1, int(SR / 2 / f0) - 1)
    on = np.mean([spec[np.argmin(np.abs(freqs - k * f0))] for k in ks])
    off = np.mean([spec[np.abs(freqs - (k + 0.5) * f0) <= 10].mean() for k in ks])
    return 10 * np.log10(on / off)


@pytest.mark.parametrize("make", [lambda: PitchPostfilter(SR), lambda: FormantPostfilter(SR),
                                  lambda: default_postfilter(SR), lambda: default_postfilter(16000)])
def test_streaming_in_any_blocks_equals_one_pass(make):
    x = make_tone(2.3, SR, seed=3)
    whole = apply(x, make())
    assert whole.dtype == np.float32 and whole.shape == x.shape
    f, parts, i = make(), [], 0
    rng = np.random.default_rng(1)
    while i < len(x):
        n = int(rng.integers(1, 900))
        parts.append(f.process(x[i : i + n]))
        i += n
    parts.append(f.flush())
    np.testing.assert_allclose(np.concatenate(parts), whole, atol=1e-6)
    assert np.array_equal(apply(x, f), whole)  # flush reset the filter: it can be used again


def test_lengths_silence_and_empty_input():
    for n in (0, 1, 79, 80, 81, 1234):
        assert apply(np.zeros(n), default_postfilter(SR)).shape == (n,)
    assert not np.any(apply(np.zeros(4000), default_postfilter(SR)))


def test_pitch_postfilter_deepens_the_gaps_between_harmonics():
    x = _noisy_vowel(seconds=2.0, snr_db=10.0)
    y = apply(x, PitchPostfilter(SR))
    assert _harmonic_to_gap_db(y) > _harmonic_to_gap_db(x) + 3.0
    # white noise alone has no period worth the name: it is left nearly as it is
    noise = 0.1 * np.random.default_rng(2).standard_normal(SR)
    z = apply(noise, PitchPostfilter(SR))
    assert np.sqrt(np.mean((z - noise) ** 2)) < 0.35 * np.sqrt(np.mean(noise**2))
    assert np.array_equal(apply(x, PitchPostfilter(SR, gamma=0.0)), x.astype(np.float32))


def test_formant_postfilter_deepens_valleys_and_keeps_the_level():
    from scipy.signal import lfilter

    # an all-pole "vowel": formants at 500 and 1500 Hz over a white excitation
    poles = [0.97 * np.exp(2j * np.pi * f / SR) for f in (500, 1500)]
    a = np.real(np.poly(poles + [p.conjugate() for p in poles]))
    x = lfilter([1.0], a, np.random.default_rng(4).standard_normal(2 * SR))
    x = 0.2 * x / np.max(np.abs(x))

    def band_db(s, lo, hi):
        spec = np.abs(np.fft.rfft(s[SR // 2 :])) ** 2
        f = np.fft.rfftfreq(len(s[SR // 2 :]), 1 / SR)
        return 10 * np.log10(np.mean(spec[(f >= lo) & (f < hi)]))

    def deepening_db(y):  # how much more the formant peaks stand above the high valley than before
        change = lambda lo, hi: band_db(y, lo, hi) - band_db(x, lo, hi)  # noqa: E731
        return (change(450, 550) + change(1450, 1550)) / 2 - change(2500, 3900)

    y = apply(x, FormantPostfilter(SR))
    assert deepening_db(y) > 1.0
    assert deepening_db(apply(x, FormantPostfilter(SR, gamma_n=0.3, gamma_d=0.8))) > deepening_db(y) + 3.0
    level = 10 * np.log10(np.mean(y[SR // 2 :] ** 2) / np.mean(x[SR // 2 :] ** 2))
    assert abs(level) < 0.5  # gain control gives the energy back


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError, match="threshold"):
        PitchPostfilter(SR, threshold=1.0)
    with pytest.raises(ValueError, match="f0_min_hz"):
        PitchPostfilter(SR, f0_min_hz=500, f0_max_hz=400)
    with pytest.raises(ValueError, match="gamma_n"):
        FormantPostfilter(SR, gamma_n=0.8, gamma_d=0.7)


def test_chain_runs_its_stages_in_order():
    x = make_tone(1.0, SR)
    p, f = PitchPostfilter(SR), FormantPostfilter(SR)
    np.testing.assert_allclose(apply(x, PostfilterChain([p, f])), apply(apply(x, PitchPostfilter(SR)), FormantPostfilter(SR)),
                               atol=1e-6)


def test_decode_switch_engine_and_bytes_api_agree(tmp_path, tiny_weights):
    src = write_wav(tmp_path / "speech.wav", 1.7, 8000)
    assert run_nsc("encode", src, "-c", "test-tiny", "-q").exit_code == 0
    f = tmp_path / "speech.nsc"
    data = f.read_bytes()
    raw, _ = nsc.decode(data)  # test-tiny's registry entry has the postfilter off
    assert np.array_equal(raw, nsc.decode(data, postfilter=False)[0])
    on, _ = nsc.decode(data, postfilter=True)
    assert on.shape == raw.shape and not np.allclose(on, raw, atol=1e-4)
    for flag, want in (("--postfilter", on), ("--no-postfilter", raw), (None, raw)):
        out = tmp_path / f"{flag}.wav"
        r = run_nsc("decode", f, "-o", out, *([flag] if flag else []))
        assert r.exit_code == 0, r.stderr
        y, sr = sf.read(out, dtype="float32")
        assert sr == 8000 and len(y) == len(want)
        np.testing.assert_allclose(y, np.clip(want, -1, 1), atol=1.5 / 32768)  # the engine streams, the API does not
