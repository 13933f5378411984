"""Audio input and output: probe, read (whole or streaming), mix to mono, resample, write WAV.

Arrays here are numpy, never torch: float32 ``[C, T]`` (channels first) for
multi-channel audio and float32 ``[T]`` for mono, values nominally in [-1, 1],
sample rates in Hz. Any file libsndfile reads is accepted (WAV, FLAC, OGG, AIFF;
8/16/24/32-bit integer or float samples; any rate; any channel count).

Long files are read in bounded memory with :class:`AudioReader`, which yields
mono blocks already resampled to the codec rate with a streaming soxr
resampler, and written with :class:`WavWriter`, which writes a 16-bit PCM WAV of
a length known in advance and so also works on pipes (stdout).

Every problem with an input (unreadable, not audio, empty, NaN/inf samples)
raises :class:`~nsc.errors.AudioError` with a one-line message.
"""

from __future__ import annotations

import math
import os
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
import soundfile as sf
import soxr

from .errors import AudioError

__all__ = [
    "AudioInfo",
    "probe",
    "load_audio",
    "to_mono",
    "resample",
    "resampled_length",
    "check_finite",
    "AudioReader",
    "WavWriter",
    "save_wav",
    "snr_db",
]

#: soxr quality used everywhere (``"HQ"``: 20-bit precision, linear phase).
RESAMPLE_QUALITY = "HQ"

def _name(src) -> str:
    if isinstance(src, (str, os.PathLike)):
        return str(src)
    return getattr(src, "name", None) if isinstance(getattr(src, "name", None), str) else "<stream>"


@dataclass(frozen=True)
class AudioInfo:
    """What an audio file holds, read from its header.

    Attributes:
        sample_rate: Hz.
        channels: channel count (>= 1).
        n_samples: samples per channel (> 0).
        format: container name as libsndfile reports it (``"WAV"``, ``"FLAC"``...).
        subtype: sample encoding (``"PCM_16"``, ``"FLOAT"``...).
    """

    sample_rate: int
    channels: int
    n_samples: int
    format: str
    subtype: str

    @property
    def duration_s(self) -> float:
        """Length in seconds."""
        return self.n_samples / self.sample_rate


def _open(src) -> sf.SoundFile:
    """Open ``src`` for reading with libsndfile, turning every failure into AudioError."""
    name = _name(src)
    if isinstance(src, (str, os.PathLike)):
        p = Path(src)
        if not p.exists():
            raise AudioError(f"{name}: no such file")
        if p.is_dir():
            raise AudioError(f"{name}: is a folder, not an audio file")
        if p.stat().st_size == 0:
            raise AudioError(f"{name}: empty file (0 bytes)")
    try:
        f = sf.SoundFile(src if not isinstance(src, os.PathLike) else os.fspath(src))
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as e:
        msg = re.sub(r"^Error opening .*?: ", "", str(e).split("\n")[0]).rstrip(".")
        raise AudioError(f"{name}: not a readable audio file ({msg})") from None
    if f.frames <= 0 or f.channels <= 0:
        f.close()
        raise AudioError(f"{name}: holds no audio samples")
    return f


def probe(src) -> AudioInfo:
    """Read an audio file's header.

    Args:
        src: path or readable, seekable binary file object.

    Returns:
        its :class:`AudioInfo`.

    Raises:
        AudioError: missing, empty, not audio, or no samples.
    """
    with _open(src) as f:
        return AudioInfo(f.samplerate, f.channels, f.frames, f.format, f.subtype)


def check_finite(block: np.ndarray, name: str = "<audio>", offset_s: float = 0.0) -> None:
    """Raise AudioError if ``block`` holds a NaN or infinite sample.

    Args:
        block: float array of any shape; time on the last axis if 2-D ``[C, T]``
            or first axis if read from soundfile ``[T, C]`` (only used for the position).
        name: input name for the message.
        offset_s: time of the block's first sample (s), for the message.
    """
    if not np.isfinite(block).all():
        raise AudioError(f"{name}: contains NaN or infinite samples (near {offset_s:.2f} s)")


def to_mono(audio: np.ndarray) -> np.ndarray:
    """Average channels: float32 ``[C, T]`` -> float32 ``[T]``; a ``[T]`` array is returned as is."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 1:
        return audio
    if audio.ndim != 2:
        raise AudioError(f"audio must be [T] or [C, T], got shape {audio.shape}")
    return audio.mean(axis=0, dtype=np.float32) if audio.shape[0] > 1 else audio[0]


def resampled_length(n_samples: int, sr_in: int, sr_out: int) -> int:
    """Samples after resampling ``n_samples`` from ``sr_in`` to ``sr_out`` Hz (rounded half up).

    The same rule as the container's ``codec_length``: ``(n * sr_out + sr_in // 2) // sr_in``.
    """
    return (n_samples * sr_out + sr_in // 2) // sr_in


def resample(audio: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Resample float32 ``[T]`` or ``[C, T]`` from ``sr_in`` to ``sr_out`` Hz with soxr (HQ).

    Returns:
        float32 of the same rank, time length exactly ``resampled_length(T, sr_in, sr_out)``.
    """
    audio = np.asarray(audio, dtype=np.float32)
    if sr_in == sr_out:
        return audio
    n_out = resampled_length(audio.shape[-1], sr_in, sr_out)
    y = soxr.resample(audio.T, sr_in, sr_out, quality=RESAMPLE_QUALITY).T.astype(np.float32, copy=False)
    return _fit(np.ascontiguousarray(y), n_out)


def _fit(y: np.ndarray, n: int) -> np.ndarray:
    """Trim or zero-pad the last axis of ``y`` to ``n`` samples."""
    t = y.shape[-1]
    if t == n:
        return y
    if t > n:
        return y[..., :n]
    pad = [(0, 0)] * (y.ndim - 1) + [(0, n - t)]
    return np.pad(y, pad)


def load_audio(
    src, *, sample_rate: int | None = None, mono: bool = False
) -> tuple[np.ndarray, int]:
    """Read a whole audio file into memory.

    Args:
        src: path or readable binary file object.
        sample_rate: resample to this rate (Hz); None keeps the file's rate.
        mono: average the channels.

    Returns:
        (float32 ``[C, T]`` (or ``[T]`` when ``mono``), sample rate in Hz).

    Raises:
        AudioError: missing, empty, not audio, or holding NaN/inf samples.
    """
    with _open(src) as f:
        data = f.read(dtype="float32", always_2d=True).T  # [C, T]
        sr = f.samplerate
    if data.shape[1] == 0:
        raise AudioError(f"{_name(src)}: holds no audio samples")
    check_finite(data, _name(src))
    audio = to_mono(data) if mono else np.ascontiguousarray(data)
    if sample_rate is not None and sample_rate != sr:
        audio, sr = resample(audio, sr, sample_rate), sample_rate
    return audio, sr


@dataclass
class AudioReader:
    """Stream a file as mono float32 blocks at ``target_rate``, in bounded memory.

    The blocks together hold exactly :attr:`n_out` samples,
    ``resampled_length(n_samples, input rate, target_rate)``: the same count
    the `.nsc` header records as ``codec_length``.

    Args:
        src: path or readable, seekable binary file object.
        target_rate: output rate (Hz).
        block_size: input samples read per step.

    Attributes:
        info: the input's :class:`AudioInfo`.
        notices: one-line notes about conversions done (resampling, channel mix, clipping).

    Raises:
        AudioError: on open (unreadable, empty, not audio) or while reading (NaN/inf).
    """

    src: object
    target_rate: int
    block_size: int = 1 << 16
    info: AudioInfo = field(init=False)
    notices: list[str] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self._file = _open(self.src)
        f = self._file
        self.info = AudioInfo(f.samplerate, f.channels, f.frames, f.format, f.subtype)
        self.name = _name(self.src)
        if self.info.channels > 1:
            self.notices.append(f"{self.info.channels} channels mixed to mono")
        if self.info.sample_rate != self.target_rate:
            self.notices.append(f"resampled {self.info.sample_rate} Hz -> {self.target_rate} Hz")

    @property
    def n_out(self) -> int:
        """Total samples the reader yields at ``target_rate``."""
        return resampled_length(self.info.n_samples, self.info.sample_rate, self.target_rate)

    def blocks(self) -> Iterator[np.ndarray]:
        """Yield float32 ``[t]`` mono blocks at ``target_rate`` (total exactly :attr:`n_out`).

        Raises:
            AudioError: a block holds NaN or infinite samples.
        """
        f = self._file
        sr_in = self.info.sample_rate
        stream = None
        if sr_in != self.target_rate:
            stream = soxr.ResampleStream(sr_in, self.target_rate, 1, dtype="float32", quality=RESAMPLE_QUALITY)
        remaining = self.n_out
        pos = 0
        clipped = 0.0
        while remaining > 0:
            data = f.read(self.block_size, dtype="float32", always_2d=True)
            last = data.shape[0] < self.block_size
            if data.shape[0]:
                check_finite(data, self.name, pos / sr_in)
                pos += data.shape[0]
                mono = data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]
                peak = float(np.abs(mono).max())
                if peak > 1.0:
                    clipped = max(clipped, peak)
                    mono = np.clip(mono, -1.0, 1.0)
            else:
                mono = np.zeros(0, np.float32)
            out = stream.resample_chunk(mono, last=last) if stream is not None else mono
            if last and out.shape[0] < remaining:
                # libsndfile returned fewer frames than its header promised: pad with silence.
                out = np.concatenate([out, np.zeros(remaining - out.shape[0], np.float32)])
            out = out[:remaining]
            remaining -= out.shape[0]
            if out.shape[0]:
                yield np.ascontiguousarray(out, dtype=np.float32)
            if last:
                break
        if clipped:
            self.notices.append(f"samples beyond [-1, 1] (peak {clipped:.2f}) clipped")

    def close(self) -> None:
        """Close the underlying file."""
        self._file.close()

    def __enter__(self) -> "AudioReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class WavWriter:
    """Write a mono 16-bit PCM WAV whose length is known in advance, block by block.

    The header is written first with the final length, so the output can be a
    pipe. Samples past ``n_samples`` are dropped; :meth:`close` pads with
    silence up to ``n_samples``, so the file always has exactly that length.

    Args:
        fileobj: writable binary file object (need not be seekable).
        sample_rate: Hz.
        n_samples: total samples the file will hold.
    """

    def __init__(self, fileobj: BinaryIO, sample_rate: int, n_samples: int) -> None:
        self.fileobj = fileobj
        self.sample_rate = int(sample_rate)
        self.n_samples = int(n_samples)
        self.written = 0
        data_bytes = 2 * self.n_samples
        if data_bytes + 36 > 0xFFFFFFFF:
            raise AudioError("output too long for a WAV file (over 4 GiB)")
        header = b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVE"
        header += b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, self.sample_rate, 2 * self.sample_rate, 2, 16)
        header += b"data" + struct.pack("<I", data_bytes)
        fileobj.write(header)

    def write(self, audio: np.ndarray) -> None:
        """Append float ``[t]`` samples (clipped to [-1, 1], rounded to 16 bits)."""
        audio = np.asarray(audio, dtype=np.float32).reshape(-1)[: self.n_samples - self.written]
        if audio.size == 0:
            return
        pcm = np.round(np.clip(audio, -1.0, 1.0) * 32767.0).astype("<i2")
        self.fileobj.write(pcm.tobytes())
        self.written += audio.size

    def close(self) -> None:
        """Pad with silence to the declared length and flush (the file object stays open)."""
        missing = self.n_samples - self.written
        while missing > 0:
            n = min(missing, 1 << 16)
            self.fileobj.write(bytes(2 * n))
            missing -= n
        self.written = self.n_samples
        self.fileobj.flush()


def save_wav(path, audio: np.ndarray, sample_rate: int, subtype: str = "PCM_16") -> None:
    """Write float32 ``[T]`` or ``[C, T]`` audio to a WAV file (whole, in memory).

    Raises:
        AudioError: the array is not 1-D or 2-D.
    """
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim not in (1, 2):
        raise AudioError(f"audio must be [T] or [C, T], got shape {audio.shape}")
    sf.write(os.fspath(path), audio.T if audio.ndim == 2 else audio, sample_rate, subtype=subtype, format="WAV")


def snr_db(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Signal-to-noise ratio of ``estimate`` against ``reference`` in dB (same shape; inf if equal)."""
    reference = np.asarray(reference, dtype=np.float64)
    noise = reference - np.asarray(estimate, dtype=np.float64)
    p_noise = float((noise**2).sum())
    if p_noise == 0.0:
        return math.inf
    return 10.0 * math.log10(max(float((reference**2).sum()), 1e-20) / p_noise)
