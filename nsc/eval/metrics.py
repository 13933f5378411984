"""Quality metrics, exact bitrates and codebook usage.

Every perceptual metric comes from its maintained library; nsc only prepares the
signals (mono float64, same length, same rate, already aligned by
:mod:`nsc.eval.align`):

- PESQ, ITU-T P.862 (narrowband, 8 kHz) and P.862.2 (wideband, 16 kHz), from
  ``pesq`` (MOS-LQO; 1.0-4.55 narrowband, 1.0-4.64 wideband).
- STOI, Taal et al., "An Algorithm for Intelligibility Prediction of
  Time-Frequency Weighted Noisy Speech", IEEE TASLP 2011, from ``pystoi``
  (0-1; the library resamples to 10 kHz itself).
- ViSQOL v3 speech mode, Chinen et al., "ViSQOL v3: An Open Source Production
  Ready Objective Speech and Audio Metric", QoMEX 2020, from ``visqol-python``
  (MOS-LQO 1-5, at 16 kHz: narrowband signals are upsampled first). Optional:
  :func:`visqol_available` says whether it is installed; the deep-lattice
  mapper (the C++ default) is used when ``ai-edge-litert`` is installed
  (``pip install visqol-python[lattice]``), else the library falls back to its
  polynomial mapper, which reads higher; :func:`visqol_mapper` says which.
- Log-spectral distance: defined in :func:`log_spectral_distance` (STFT from
  ``scipy.signal``).
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "PESQ_MAX",
    "pesq_mode",
    "pesq_score",
    "stoi_score",
    "visqol_available",
    "visqol_mapper",
    "visqol_score",
    "log_spectral_distance",
    "Bitrate",
    "CodebookUsage",
    "codebook_usage",
]

#: Highest MOS-LQO each PESQ mode can give (identical signals), by mode.
PESQ_MAX = {"nb": 4.549, "wb": 4.644}


def _mono64(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, dtype=np.float64).ravel()


def pesq_mode(sample_rate: int) -> str:
    """``"nb"`` at 8000 Hz, ``"wb"`` at 16000 Hz.

    Raises:
        ValueError: PESQ is defined only at 8 and 16 kHz.
    """
    if sample_rate == 8000:
        return "nb"
    if sample_rate == 16000:
        return "wb"
    raise ValueError(f"PESQ needs 8000 or 16000 Hz audio, not {sample_rate} Hz")


def pesq_score(reference: np.ndarray, degraded: np.ndarray, sample_rate: int) -> float:
    """PESQ MOS-LQO (ITU-T P.862 narrowband at 8 kHz, P.862.2 wideband at 16 kHz).

    Args:
        reference: float [T] clean speech in [-1, 1] at ``sample_rate`` Hz.
        degraded: float [T] codec output, aligned to ``reference``.
        sample_rate: 8000 (narrowband mode) or 16000 (wideband mode).

    Returns:
        MOS-LQO (about 1.0 to :data:`PESQ_MAX` of the mode); NaN when PESQ finds
        no utterance (silent reference or output) or the signal is too short.
    """
    from pesq import PesqError, pesq

    mode = pesq_mode(sample_rate)
    try:
        value = pesq(sample_rate, _mono64(reference), _mono64(degraded), mode, on_error=PesqError.RETURN_VALUES)
    except (ValueError, ZeroDivisionError):  # e.g. a silent input: the C code yields NaN
        return math.nan
    value = float(value)
    return value if value > 0 else math.nan  # negative values are PesqError codes


def stoi_score(reference: np.ndarray, degraded: np.ndarray, sample_rate: int, extended: bool = False) -> float:
    """Short-time objective intelligibility (Taal et al. 2011), from ``pystoi``.

    Args:
        reference: float [T] clean speech at ``sample_rate`` Hz.
        degraded: float [T] codec output, aligned to ``reference``.
        sample_rate: Hz (any; pystoi resamples to 10 kHz).
        extended: ESTOI (Jensen & Taal 2016) instead of STOI.

    Returns:
        Score in about [0, 1] (1 = identical); NaN when the reference has no
        speech frames (pystoi warns and returns a tiny value then).
    """
    from pystoi import stoi

    ref, deg = _mono64(reference), _mono64(degraded)
    if not np.any(ref):
        return math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(stoi(ref, deg, sample_rate, extended=extended))


_VISQOL_API = None


def visqol_available() -> bool:
    """True when ``visqol-python`` can be imported."""
    try:
        import visqol  # noqa: F401
    except Exception:  # ImportError, or a broken optional native dependency
        return False
    return True


def visqol_mapper() -> str | None:
    """``"lattice"`` (C++ default, needs ``ai-edge-litert``), ``"polynomial"``, or None when unavailable."""
    if not visqol_available():
        return None
    try:
        import ai_edge_litert  # noqa: F401
    except Exception:
        return "polynomial"
    return "lattice"


def _visqol_api():
    global _VISQOL_API
    if _VISQOL_API is None:
        from visqol import VisqolApi

        api = VisqolApi()
        # The library prints a fallback notice and TFLite logs; keep the terminal clean.
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            api.create(mode="speech")
        _VISQOL_API = api
    return _VISQOL_API


@contextlib.contextmanager
def _quiet_fd2():
    """Silence native writes to stderr (TFLite's one-time INFO line)."""
    try:
        saved = os.dup(2)
    except OSError:  # pragma: no cover
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def visqol_score(reference: np.ndarray, degraded: np.ndarray, sample_rate: int) -> float:
    """ViSQOL v3 speech-mode MOS-LQO (Chinen et al. 2020), from ``visqol-python``.

    Speech mode works at 16 kHz: other rates are resampled (soxr, VHQ) first, so
    a narrowband signal is scored as band-limited wideband speech.

    Args:
        reference: float [T] clean speech at ``sample_rate`` Hz.
        degraded: float [T] codec output, aligned to ``reference``.
        sample_rate: Hz.

    Returns:
        MOS-LQO in [1, 5]; NaN when ``visqol-python`` is not installed or fails
        on the input (e.g. silence).
    """
    if not visqol_available():
        return math.nan
    ref, deg = _mono64(reference), _mono64(degraded)
    if sample_rate != 16000:
        import soxr

        ref = soxr.resample(ref, sample_rate, 16000, quality="VHQ")
        deg = soxr.resample(deg, sample_rate, 16000, quality="VHQ")
    try:
        with _quiet_fd2(), contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = _visqol_api().measure_from_arrays(ref, deg, sample_rate=16000)
    except Exception:  # the library raises assorted errors on silent/degenerate input
        return math.nan
    value = float(result.moslqo)
    return value if math.isfinite(value) else math.nan


def log_spectral_distance(
    reference: np.ndarray,
    degraded: np.ndarray,
    sample_rate: int,
    *,
    frame_s: float = 0.032,
    hop_s: float = 0.008,
    floor: float = 1e-10,
) -> float:
    """Log-spectral distance (dB) between two aligned signals.

    Definition: with power spectra ``P(t, k) = |STFT(x)(t, k)|**2`` of the
    reference and ``P^(t, k)`` of the degraded signal,

        LSD = mean_t sqrt( mean_k ( 10 log10 (P(t, k) + floor) - 10 log10 (P^(t, k) + floor) )**2 )

    over all frames t and all bins k from 0 Hz to Nyquist. STFT settings:
    ``scipy.signal.stft`` with a periodic Hann window of ``frame_s`` (32 ms: 256
    samples at 8 kHz, 512 at 16 kHz), hop ``hop_s`` (8 ms, 75 % overlap),
    n_fft = window length, zero-padded boundaries, no detrending; scipy scales
    the STFT by the window sum, so a full-scale sine peaks at 0.25 (-6 dB).
    ``floor`` (1e-10, -100 dB) keeps silent bins finite. Identical signals give
    exactly 0.

    Args:
        reference: float [T] at ``sample_rate`` Hz.
        degraded: float [T] at ``sample_rate`` Hz (aligned, same length).
        sample_rate: Hz.
        frame_s: window length (s).
        hop_s: frame step (s).
        floor: power floor added before the log.

    Returns:
        LSD in dB (>= 0; lower is better).
    """
    from scipy.signal import stft

    ref, deg = _mono64(reference), _mono64(degraded)
    n = min(len(ref), len(deg))
    ref, deg = ref[:n], deg[:n]
    nperseg = max(8, int(round(frame_s * sample_rate)))
    hop = max(1, int(round(hop_s * sample_rate)))
    kwargs = dict(fs=sample_rate, window="hann", nperseg=nperseg, noverlap=nperseg - hop, detrend=False)
    _, _, zr = stft(ref, **kwargs)
    _, _, zd = stft(deg, **kwargs)
    lr = 10.0 * np.log10(np.abs(zr) ** 2 + floor)
    ld = 10.0 * np.log10(np.abs(zd) ** 2 + floor)
    per_frame = np.sqrt(np.mean((lr - ld) ** 2, axis=0))
    return float(np.mean(per_frame))


@dataclass(frozen=True)
class Bitrate:
    """The exact rate one coded file achieved.

    Attributes:
        payload_bits: bits of coded audio (no container/header/framing).
        file_bits: bits of the whole file as stored (8 x bytes), headers included.
        duration_s: duration of the reference audio (s).
        nominal_kbps: the rate the codec was set to (kbit/s).
    """

    payload_bits: int
    file_bits: int
    duration_s: float
    nominal_kbps: float

    @property
    def payload_kbps(self) -> float:
        """Payload bits over the audio duration (kbit/s)."""
        return self.payload_bits / self.duration_s / 1000.0 if self.duration_s > 0 else math.nan

    @property
    def file_kbps(self) -> float:
        """Whole-file bits over the audio duration (kbit/s)."""
        return self.file_bits / self.duration_s / 1000.0 if self.duration_s > 0 else math.nan


@dataclass(frozen=True)
class CodebookUsage:
    """How a codebook was used on the evaluated files.

    Attributes:
        index: codebook position (0 = first residual stage).
        size: entries in the codebook.
        n_codes: indices counted.
        n_used: distinct entries seen.
        utilisation: ``n_used / size``.
        perplexity: ``exp(H)`` with H the entropy (nats) of the empirical index
            distribution; equals ``size`` for uniform use, 1 for a single entry.
        entropy_bits: H in bits per index (at most log2(size)).
    """

    index: int
    size: int
    n_codes: int
    n_used: int
    utilisation: float
    perplexity: float
    entropy_bits: float


def codebook_usage(codes: Sequence[np.ndarray], codebook_sizes: Sequence[int]) -> list[CodebookUsage]:
    """Per-codebook utilisation and perplexity over several files.

    Args:
        codes: one int array per file, shape [Q, F] (or [1, Q, F]): index of
            codebook q at frame f.
        codebook_sizes: entries of each codebook (at least Q of them).

    Returns:
        One :class:`CodebookUsage` per codebook row present, in order.
    """
    arrays = [np.asarray(c).reshape(-1, np.asarray(c).shape[-1]) for c in codes]
    if not arrays:
        return []
    n_q = arrays[0].shape[0]
    out = []
    for q in range(n_q):
        size = int(codebook_sizes[q])
        idx = np.concatenate([a[q].ravel() for a in arrays]).astype(np.int64)
        counts = np.bincount(idx, minlength=size)
        total = int(counts.sum())
        p = counts[counts > 0] / max(total, 1)
        h = float(-(p * np.log(p)).sum()) if total else 0.0
        n_used = int((counts > 0).sum())
        out.append(
            CodebookUsage(
                index=q,
                size=size,
                n_codes=total,
                n_used=n_used,
                utilisation=n_used / size,
                perplexity=math.exp(h),
                entropy_bits=h / math.log(2),
            )
        )
    return out
