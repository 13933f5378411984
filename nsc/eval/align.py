"""Time alignment of a decoded signal to its reference, before scoring.

Codecs delay their output (look-ahead, filter banks, frame buffering), and
vocoders such as Codec2 do not reproduce the waveform at all, so plain
waveform cross-correlation is unreliable for them. Alignment therefore runs in
two stages:

1. **Band-energy envelopes** (coarse). Both signals are cut into 16 ms Hann
   frames every 2 ms; the power spectrum of each frame is summed into
   ``n_bands`` log-spaced bands between 100 Hz and Nyquist, and each band's
   amplitude (square root of its energy, as in STOI's envelopes) is standardised
   over time. Amplitude rather than log energy weights the loud, speech-bearing
   parts: log envelopes are dominated by pauses, where a vocoder's output differs
   most, and put Codec2's delay about 5 ms early. The envelopes' cross-correlation,
   summed over bands, peaks at the delay (in 2 ms steps, refined to a fraction of
   a step by fitting a parabola through the peak). Envelopes survive phase
   changes and vocoding.
2. **Waveform refinement** (fine). The plain cross-correlation of the
   waveforms is searched within one envelope step either side of the coarse
   delay. Its peak is taken when the normalised correlation there reaches
   ``min_waveform_corr`` (waveform codecs: exact to the sample); otherwise the
   rounded coarse delay is kept (vocoders: exact to about a millisecond, which
   PESQ and STOI tolerate).

Sign convention: ``delay > 0`` means the decoded signal lags the reference,
``decoded[n + delay] ~ reference[n]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["AlignResult", "band_envelopes", "estimate_delay", "apply_delay", "align"]


@dataclass(frozen=True)
class AlignResult:
    """Outcome of :func:`estimate_delay`.

    Attributes:
        delay: samples the decoded signal lags the reference (negative: it leads).
        coarse_delay: the envelope-stage estimate, samples (float, sub-step).
        waveform_corr: normalised waveform correlation at ``delay`` (-1..1; near 0
            for vocoders, near 1 for transparent codecs).
        refined: True when the waveform stage set ``delay``.
    """

    delay: int
    coarse_delay: float
    waveform_corr: float
    refined: bool


def _frames(x: np.ndarray, frame: int, hop: int) -> np.ndarray:
    """float [T] -> [N, frame] frames every ``hop`` samples (zero-padded to at least one frame)."""
    if len(x) < frame:
        x = np.pad(x, (0, frame - len(x)))
    n = 1 + (len(x) - frame) // hop
    return np.lib.stride_tricks.sliding_window_view(x, frame)[: n * hop : hop]


def band_envelopes(x: np.ndarray, sample_rate: int, hop: int, n_bands: int = 8) -> np.ndarray:
    """Standardised band amplitude envelopes.

    Args:
        x: float [T] mono audio at ``sample_rate`` Hz.
        sample_rate: Hz.
        hop: frame step in samples; frames are ``8 * hop`` samples, Hann-windowed.
        n_bands: log-spaced bands between 100 Hz and ``sample_rate / 2``.

    Returns:
        float64 [n_bands, N] envelopes, each with zero mean and unit variance over
        time (a constant band stays all zeros), N = frames.
    """
    frame = 8 * hop
    frames = _frames(np.asarray(x, dtype=np.float64), frame, hop) * np.hanning(frame)
    power = np.abs(np.fft.rfft(frames, axis=-1)) ** 2  # [N, frame/2+1]
    freqs = np.fft.rfftfreq(frame, 1.0 / sample_rate)
    edges = np.geomspace(100.0, sample_rate / 2.0, n_bands + 1)
    env = np.empty((n_bands, power.shape[0]))
    for b in range(n_bands):
        sel = (freqs >= edges[b]) & (freqs < edges[b + 1] if b < n_bands - 1 else freqs <= edges[b + 1])
        if not sel.any():  # very narrow band at low resolution: take the nearest bin
            sel = np.zeros_like(freqs, dtype=bool)
            sel[np.argmin(np.abs(freqs - np.sqrt(edges[b] * edges[b + 1])))] = True
        env[b] = np.sqrt(power[:, sel].sum(axis=1))
    env -= env.mean(axis=1, keepdims=True)
    std = env.std(axis=1, keepdims=True)
    return np.divide(env, std, out=np.zeros_like(env), where=std > 1e-9)


def _xcorr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Full cross-correlation c[k] = sum_n a[n] * b[n + k - (len(a) - 1)] via FFT (last axis summed)."""
    n = a.shape[-1] + b.shape[-1] - 1
    size = 1 << (n - 1).bit_length()
    fa = np.fft.rfft(a[..., ::-1], size, axis=-1)
    fb = np.fft.rfft(b, size, axis=-1)
    c = np.fft.irfft(fa * fb, size, axis=-1)[..., :n]
    return c.sum(axis=0) if c.ndim > 1 else c


def estimate_delay(
    reference: np.ndarray,
    decoded: np.ndarray,
    sample_rate: int,
    *,
    max_delay_s: float = 0.5,
    step_s: float = 0.002,
    n_bands: int = 8,
    min_waveform_corr: float = 0.5,
) -> AlignResult:
    """Estimate how many samples ``decoded`` lags ``reference``.

    Args:
        reference: float [T] mono reference at ``sample_rate`` Hz.
        decoded: float [T'] mono codec output at the same rate (any length).
        sample_rate: Hz.
        max_delay_s: largest delay searched, either sign (s).
        step_s: envelope frame step (s); the coarse stage's resolution.
        n_bands: envelope bands.
        min_waveform_corr: normalised correlation the waveform stage must reach to
            override the coarse estimate.

    Returns:
        :class:`AlignResult`; delay 0 when either signal is silent.
    """
    ref = np.asarray(reference, dtype=np.float64).ravel()
    dec = np.asarray(decoded, dtype=np.float64).ravel()
    if not np.any(ref) or not np.any(dec):
        return AlignResult(0, 0.0, 0.0, False)
    hop = max(1, int(round(step_s * sample_rate)))
    max_lag = int(round(max_delay_s * sample_rate))

    # Stage 1: band-energy envelopes.
    er = band_envelopes(ref, sample_rate, hop, n_bands)
    ed = band_envelopes(dec, sample_rate, hop, n_bands)
    c = _xcorr(er, ed)
    zero = er.shape[1] - 1
    lag_frames = np.arange(len(c)) - zero
    window = np.abs(lag_frames) <= max_lag // hop
    c_win = np.where(window, c, -np.inf)
    k = int(np.argmax(c_win))
    frac = 0.0
    if 0 < k < len(c) - 1 and np.isfinite(c_win[k - 1]) and np.isfinite(c_win[k + 1]):
        denom = c[k - 1] - 2.0 * c[k] + c[k + 1]
        if denom < 0:
            frac = float(np.clip(0.5 * (c[k - 1] - c[k + 1]) / denom, -0.5, 0.5))
    coarse = (lag_frames[k] + frac) * hop

    # Stage 2: waveform cross-correlation within one step of the coarse estimate.
    centre = int(round(coarse))
    lo, hi = centre - hop, centre + hop
    best, best_corr = centre, -np.inf
    for d in range(lo, hi + 1):
        r, x = _overlap(ref, dec, d)
        if len(r) == 0:
            continue
        denom = np.sqrt(np.dot(r, r) * np.dot(x, x))
        corr = float(np.dot(r, x) / denom) if denom > 0 else 0.0
        if corr > best_corr:
            best, best_corr = d, corr
    if best_corr >= min_waveform_corr:
        return AlignResult(best, float(coarse), best_corr, True)
    r, x = _overlap(ref, dec, centre)
    denom = np.sqrt(np.dot(r, r) * np.dot(x, x)) if len(r) else 0.0
    corr = float(np.dot(r, x) / denom) if denom > 0 else 0.0
    return AlignResult(centre, float(coarse), corr, False)


def _overlap(ref: np.ndarray, dec: np.ndarray, delay: int) -> tuple[np.ndarray, np.ndarray]:
    """The overlapping parts of ``ref[n]`` and ``dec[n + delay]``."""
    if delay >= 0:
        x = dec[delay:]
        n = min(len(ref), len(x))
        return ref[:n], x[:n]
    r = ref[-delay:]
    n = min(len(r), len(dec))
    return r[:n], dec[:n]


def apply_delay(decoded: np.ndarray, delay: int, length: int) -> np.ndarray:
    """Undo ``delay`` and fit the result to ``length`` samples.

    Args:
        decoded: float [T'] codec output.
        delay: samples it lags the reference (from :func:`estimate_delay`).
        length: the reference's length T.

    Returns:
        float [T] (same dtype): ``out[n] = decoded[n + delay]``, zeros where the
        decoded signal has no sample (a codec that drops the tail is penalised).
    """
    x = decoded[delay:] if delay >= 0 else np.concatenate([np.zeros(-delay, decoded.dtype), decoded])
    if len(x) >= length:
        return x[:length].copy()
    return np.concatenate([x, np.zeros(length - len(x), decoded.dtype)])


def align(
    reference: np.ndarray, decoded: np.ndarray, sample_rate: int, **kwargs
) -> tuple[np.ndarray, AlignResult]:
    """Estimate the delay and return ``decoded`` aligned to, and as long as, ``reference``.

    Args:
        reference: float [T] mono at ``sample_rate`` Hz.
        decoded: float [T'] mono at ``sample_rate`` Hz.
        sample_rate: Hz.
        **kwargs: passed to :func:`estimate_delay`.

    Returns:
        (float [T] aligned decoded signal, :class:`AlignResult`).
    """
    result = estimate_delay(reference, decoded, sample_rate, **kwargs)
    return apply_delay(np.asarray(decoded), result.delay, len(reference)), result
