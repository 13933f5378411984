"""nsc: neural speech codecs for 0.95-6 kbit/s.

The Python API, for in-memory use (files and folders go through :mod:`nsc.engine`,
or the ``nsc`` command)::

    import nsc
    data = nsc.encode(audio, 16000, bitrate_kbps=1.2)   # bytes of a .nsc file
    audio_8k, rate = nsc.decode(data)                   # float32 [T], 8000

Audio is numpy ``float32`` (other float/int dtypes are converted), shaped ``[T]``
for mono or ``[C, T]`` (channels first) for several channels, nominally in
[-1, 1]. Errors are :class:`~nsc.errors.NscError` subclasses with one-line
messages. Torch is imported only when a function here is first called.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import AudioError, BitrateError, FormatError, NscError, UnknownCodecError, WeightsError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from .codec import Codec
    from .engine import FileResult

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "load_codec",
    "encode",
    "decode",
    "encode_file",
    "decode_file",
    "Codec",
    "NscError",
    "AudioError",
    "BitrateError",
    "FormatError",
    "UnknownCodecError",
    "WeightsError",
]

_cache: dict[tuple, "Codec"] = {}
_cache_lock = threading.Lock()


def __getattr__(name: str):
    if name == "Codec":
        from .codec import Codec

        return Codec
    raise AttributeError(f"module 'nsc' has no attribute {name!r}")


def load_codec(name: str = "mscacodec-nb", *, weights: str | Path | None = None, device: str = "cpu",
               precision: str = "auto") -> "Codec":
    """Load a registered codec with its trained weights (cached per name, weights file, device and precision).

    Args:
        name: registry name (``nsc models`` lists them), e.g. ``"mscacodec-nb"``.
        weights: a safetensors file of your own; default is the packaged file, or
            ``$NSC_WEIGHTS_DIR/<name>.safetensors`` when that exists.
        device: ``"cpu"``, ``"cuda"`` or ``"auto"`` (CUDA when available).
        precision: the decoder's arithmetic: ``"auto"`` (bfloat16 for its MSR-CAM
            blocks on a CPU with native bfloat16, else float32), ``"float32"`` or
            ``"bfloat16"`` (:mod:`nsc.models.precision`). Encoding is always float32.

    Returns:
        a :class:`~nsc.codec.Codec` (``.encode``/``.decode`` on torch tensors, ``.fingerprint``).

    Raises:
        NscError: an unknown ``precision``.
        UnknownCodecError: no such codec.
        WeightsError: weights missing, failing their SHA-256 check, or not fitting the model.
    """
    from .codec import load_codec as _load
    from .codec import resolve_device
    from .registry import get_spec
    from .weights import weights_path

    spec = get_spec(name)
    path = Path(weights) if weights is not None else weights_path(spec.weights)
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        stamp = None
    key = (spec.name, str(path.resolve()), stamp, str(resolve_device(device)), precision)
    with _cache_lock:
        if key not in _cache:
            codec = _load(spec.name, weights=None if weights is None else str(weights), device=device)
            _cache[key] = codec.with_precision(precision)
        return _cache[key]


def _as_codec(codec, bitrate_kbps, beam_width: int | None = None) -> tuple["Codec", int]:
    from .codec import Codec
    from .registry import parse_bitrate, resolve

    if isinstance(bitrate_kbps, str):
        bitrate_kbps = parse_bitrate(bitrate_kbps)
    if isinstance(codec, Codec):
        spec = codec.spec
        n = spec.default_n_codebooks if bitrate_kbps is None else spec.n_codebooks_for(float(bitrate_kbps))
        c = codec
    else:
        spec, n = resolve(codec, None if bitrate_kbps is None else float(bitrate_kbps))
        c = load_codec(spec.name)
    return (c if beam_width is None else c.with_beam_width(beam_width)), n


def encode(
    audio: "np.ndarray",
    sample_rate: int,
    bitrate_kbps: float | str | None = None,
    codec: "str | Codec | None" = None,
    beam_width: int | None = None,
) -> bytes:
    """Compress audio to the bytes of a `.nsc` file.

    The audio is mixed to mono and resampled (soxr) to the codec's rate; the
    file records the original rate, channel count and length, so :func:`decode`
    can restore them.

    Args:
        audio: float32 ``[T]`` (mono) or ``[C, T]`` (channels first), in [-1, 1].
        sample_rate: rate of ``audio`` in Hz.
        bitrate_kbps: payload bitrate in kbit/s (``1.2``) or a string (``"1.2k"``,
            ``"1200"``); None for the codec's default. Without ``codec``, the
            bitrate picks the codec (``nsc models``).
        codec: registry name, an already loaded :class:`~nsc.codec.Codec`, or None.
        beam_width: partial codes the quantizer search keeps per frame (1: greedy);
            None for the codec's default (``nsc models`` lists it). The decoder is
            the same whatever the search, so any width decodes with any nsc.

    Returns:
        the `.nsc` file as bytes (format in ``formats/nsc-container-v1.md``).

    Raises:
        AudioError: empty audio, NaN/inf samples, a shape other than [T] or [C, T],
            or a non-positive sample rate.
        BitrateError: the codec does not offer the bitrate (the message lists those it does).
        UnknownCodecError, WeightsError: as :func:`load_codec`.
        NscError: ``beam_width`` < 1, or > 1 for a codec whose quantizer searches greedily only.
    """
    import numpy as np

    from . import container
    from .audio import check_finite, resample, to_mono
    from .engine import encode_array, make_header

    x = np.asarray(audio)
    if x.ndim not in (1, 2) or x.shape[-1] == 0 or (x.ndim == 2 and x.shape[0] == 0):
        raise AudioError(f"audio must be a non-empty [T] or [C, T] array, got shape {x.shape}")
    if int(sample_rate) <= 0:
        raise AudioError(f"sample rate must be positive, got {sample_rate}")
    if np.issubdtype(x.dtype, np.integer):
        x = x.astype(np.float32) / float(np.iinfo(x.dtype).max)
    x = x.astype(np.float32, copy=False)
    check_finite(x, "audio")
    channels = 1 if x.ndim == 1 else x.shape[0]
    c, n_codebooks = _as_codec(codec, bitrate_kbps, beam_width)
    mono = np.clip(resample(to_mono(x), int(sample_rate), c.sample_rate), -1.0, 1.0)
    header = make_header(c, n_codebooks, input_sample_rate=int(sample_rate), input_channels=channels,
                         n_samples=x.shape[-1])
    if len(mono) == 0:
        mono = np.zeros(1, np.float32)
    codes = encode_array(c, mono, n_codebooks)
    return container.pack(header, codes[:, : header.n_frames])


def decode(
    data: bytes,
    *,
    codec: "str | Codec | None" = None,
    sample_rate: int | str | None = None,
    salvage: bool = False,
    postfilter: bool | None = None,
    precision: str | None = None,
) -> tuple["np.ndarray", int]:
    """Decompress the bytes of a `.nsc` file.

    Args:
        data: the whole file.
        codec: None to load the codec the header names; a name or loaded
            :class:`~nsc.codec.Codec` to use that one (it must match the header).
        sample_rate: None for the codec's rate (length ``codec_length``); an int
            in Hz to resample; ``"original"`` for the input's original rate and
            exact original length ``n_samples``.
        salvage: decode the intact packets of a damaged file and leave silence
            where packets are damaged; without it a damaged file raises.
        postfilter: apply :mod:`nsc.postfilter` to the decoded speech (True), not
            (False), or as the codec's registry entry says (None, ``nsc decode``'s default).
        precision: the decoder's arithmetic, as in :func:`load_codec`; None: ``"auto"``,
            or a given codec's own.

    Returns:
        (float32 mono ``[T]`` in [-1, 1], its sample rate in Hz).

    Raises:
        NscError: an unknown ``precision``.
        FormatError: not a `.nsc` file, unsupported version, or damaged (without ``salvage``).
        UnknownCodecError: the header names a codec this nsc does not know.
        WeightsError: the file was made with other weights than the loaded codec's
            (the message names both fingerprints), or weights are missing.
    """
    import numpy as np

    from . import container
    from .audio import resample, resampled_length
    from .codec import Codec
    from .engine import check_fingerprint, decode_array
    from .postfilter import apply as apply_postfilter
    from .postfilter import postfilter_for
    from .registry import spec_for_wire_id

    if salvage:
        header, codes, damages = container.salvage(bytes(data))
    else:
        (header, codes), damages = container.unpack(bytes(data)), []
    spec = spec_for_wire_id(header.codec_id)
    if isinstance(codec, Codec):
        c = codec if precision is None else codec.with_precision(precision)
    else:
        c = load_codec(spec.name if codec is None else codec, precision=precision or "auto")
    if c.spec.wire_id != header.codec_id:
        raise WeightsError(f"the file was made by {spec.name}, not {c.spec.name}")
    check_fingerprint(c, header)
    audio = decode_array(c, np.where(codes < 0, 0, codes))
    pf = postfilter_for(c.spec, postfilter)
    if pf is not None:
        audio = np.clip(apply_postfilter(audio, pf), -1.0, 1.0)
    for d in damages:
        audio[d.first_frame * header.hop_length : (d.first_frame + d.n_frames) * header.hop_length] = 0.0
    audio = audio[: header.codec_length]
    if sample_rate is None:
        return audio, header.sample_rate
    if sample_rate == "original":
        out_rate, n_out = header.input_sample_rate, header.n_samples
    elif isinstance(sample_rate, int) and sample_rate > 0:
        out_rate, n_out = sample_rate, resampled_length(header.codec_length, header.sample_rate, sample_rate)
    else:
        raise NscError(f"sample_rate must be None, a positive int (Hz) or 'original', got {sample_rate!r}")
    y = resample(audio, header.sample_rate, out_rate)
    y = np.pad(y, (0, max(0, n_out - len(y))))[:n_out]
    return np.clip(y, -1.0, 1.0).astype(np.float32, copy=False), out_rate


def encode_file(src: str | Path, dst: str | Path, *, bitrate_kbps: float | str | None = None,
                codec: "str | Codec | None" = None, force: bool = False,
                beam_width: int | None = None) -> "FileResult":
    """Encode one audio file to a `.nsc` file with the streaming engine (bounded memory).

    ``bitrate_kbps``, ``codec`` and ``beam_width`` are as in :func:`encode`.

    Returns:
        the :class:`~nsc.engine.FileResult` (duration, sizes, notices).

    Raises:
        NscError: the input failed (message says why), or the output exists without ``force``.
    """
    from .engine import Engine, Job

    c, n = _as_codec(codec, bitrate_kbps, beam_width)
    result = Engine(c, n_codebooks=n).encode_files([Job(str(src), str(dst))], force=force).results[0]
    if not result.ok:
        raise NscError(result.error)
    return result


def decode_file(src: str | Path, dst: str | Path, *, sample_rate: int | str | None = None,
                salvage: bool = False, force: bool = False, postfilter: bool | None = None,
                precision: str = "auto") -> "FileResult":
    """Decode one `.nsc` file to a 16-bit WAV file with the streaming engine.

    Args:
        sample_rate: as in :func:`decode`.
        salvage: as in :func:`decode`; lost ranges are in ``result.lost``.
        postfilter: as in :func:`decode`.
        precision: as in :func:`load_codec`.

    Raises:
        NscError: an unknown ``precision``; the input failed (damaged, wrong weights...), or the
            output exists without ``force``.
    """
    from .engine import Engine, Job

    engine = Engine(codec_loader=lambda name: load_codec(name, precision=precision), postfilter=postfilter)
    result = engine.decode_files(
        [Job(str(src), str(dst))], sample_rate=sample_rate, salvage=salvage, force=force
    ).results[0]
    if not result.ok:
        raise NscError(result.error)
    return result
