"""The batch engine: one code path for single files, folders, pipes and the Python API.

Encoding a file: a worker thread opens the input, reads it in blocks, mixes to
mono and resamples to the codec rate with a streaming soxr resampler, and cuts
the audio into fixed-length chunks, each preceded by a left context of whole
frames of the audio before it. The main thread gathers chunks of several files
(or several chunks of one long file) into one forward pass on the chosen
device, drops the frames that belong to each chunk's context, and hands the
codes to a streaming `.nsc` writer. Decoding mirrors it: packets are read one
by one, cut into chunks of frames with left-context frames, decoded in
batches, and the new samples are written to a WAV file incrementally
(optionally resampled with a streaming resampler). Memory therefore stays
bounded whatever the input length.

The models are causal (convolutions + a GRU), so a chunk's output does not
depend on what follows it, and right-padding inside a batch changes nothing;
the left context lets the GRU and the convolutions warm up, so chunked and
whole-file processing agree closely (tested: SNR >= 30 dB).

Outputs are written to a temporary file in the destination folder and renamed
over the destination only when complete (``os.replace``), so a failed or
interrupted run leaves no half-written file; an existing output is never
replaced without ``force``; inputs are only read.

Library code here never prints: it reports through a :class:`Listener`.
"""

from __future__ import annotations

import io
import math
import os
import queue
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
import soxr
import torch

from . import container
from .audio import RESAMPLE_QUALITY, AudioReader, WavWriter, probe, resampled_length
from .codec import Codec, load_codec, resolve_device
from .errors import AudioError, FormatError, NscError, WeightsError
from .postfilter import postfilter_for
from .registry import CodecSpec, spec_for_wire_id

__all__ = [
    "AUDIO_SUFFIXES",
    "DEFAULT_CHUNK_S",
    "DEFAULT_CONTEXT_S",
    "Job",
    "FileResult",
    "BatchReport",
    "Listener",
    "OutputExistsError",
    "Engine",
    "plan_jobs",
    "chunk_plan",
    "encode_array",
    "decode_array",
    "make_header",
    "check_fingerprint",
    "describe_error",
]

#: File name endings the engine picks up when it scans a folder for audio to encode.
AUDIO_SUFFIXES = frozenset(
    ".wav .wave .flac .ogg .oga .opus .mp3 .aiff .aif .aifc .au .snd .caf .w64 .rf64 .sph .voc".split()
)
#: Default chunk length (s) for long inputs, and left context (s) given to each chunk.
DEFAULT_CHUNK_S = 10.0
#: Default cap on the audio (s) in one forward pass: on a CPU, bigger batches are no faster
#: and cost memory (measured: 8 x 20 s chunks peaked at 1 GiB RSS, 1 x 10 s at 0.36 GiB).
DEFAULT_MAX_BATCH_S_CPU = 20.0
DEFAULT_MAX_BATCH_S_CUDA = 600.0
#: Default items (files or chunks) per forward pass. On a CPU one at a time is fastest: a
#: batch of 2-10 s files is padded to its longest, and one thread gains nothing from wider
#: tensors (measured, benchmarks/bench_codecs.py folder part: batch 8 was 1.1-1.8x slower
#: than batch 1 for every codec). On CUDA, batching is what fills the GPU.
DEFAULT_BATCH_SIZE_CPU = 1
DEFAULT_BATCH_SIZE_CUDA = 8
DEFAULT_CONTEXT_S = 1.0
STDIO = "-"


class OutputExistsError(NscError):
    """The output file exists and overwriting was not asked for."""


# --------------------------------------------------------------------------- planning


@dataclass(frozen=True)
class Job:
    """One input and where its output goes.

    Attributes:
        src: input path, or ``"-"`` for standard input.
        dst: output path, or ``"-"`` for standard output.
    """

    src: str
    dst: str


def _scan(folder: Path, suffixes: frozenset[str] | None, exclude_suffix: str) -> list[Path]:
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in files:
            if name.startswith("."):
                continue
            p = Path(root) / name
            suffix = p.suffix.lower()
            if suffixes is not None and suffix not in suffixes:
                continue
            if suffixes is None and suffix != exclude_suffix:
                continue
            found.append(p)
    return sorted(found)


def plan_jobs(inputs: Sequence[str], output: str | None, *, mode: str) -> list[Job]:
    """Turn command-line inputs into jobs.

    Args:
        inputs: files, folders (scanned recursively, sorted; hidden files skipped)
            or a single ``"-"`` (standard input to standard output).
        output: ``-o``: an output file for a single input file, otherwise a folder
            under which each input folder's tree is mirrored; None writes each
            output beside its input.
        mode: ``"encode"`` (audio files -> ``name.nsc``) or ``"decode"``
            (``.nsc`` files -> ``name.nsc.wav``).

    Returns:
        jobs in input order; inputs that do not exist still get a job (it fails
        when run, so a batch reports it and goes on).

    Raises:
        NscError: ``"-"`` mixed with other inputs, or several inputs with an
            ``-o`` that is an existing file.
    """
    if mode not in ("encode", "decode"):
        raise ValueError(f"mode must be encode or decode, got {mode!r}")
    suffixes = AUDIO_SUFFIXES if mode == "encode" else None

    def out_name(p: Path) -> str:
        return p.with_suffix(".nsc").name if mode == "encode" else p.name + ".wav"

    if STDIO in inputs:
        if len(inputs) != 1:
            raise NscError("'-' (standard input) cannot be combined with other inputs")
        return [Job(STDIO, output if output else STDIO)]
    paths = [Path(i) for i in inputs]
    single_file = len(paths) == 1 and not paths[0].is_dir()
    if output is not None and output != STDIO:
        out = Path(output)
        as_file = single_file and not out.is_dir() and not output.endswith(("/", os.sep))
        if not single_file and out.exists() and not out.is_dir():
            raise NscError(f"-o {output}: is a file, but several inputs need an output folder")
    elif output == STDIO:
        if not single_file:
            raise NscError("-o - (standard output) needs exactly one input file")
        return [Job(str(paths[0]), STDIO)]
    jobs: list[Job] = []
    for p in paths:
        if p.is_dir():
            for f in _scan(p, suffixes, ".nsc"):
                if output is None:
                    dst = f.parent / out_name(f)
                else:
                    dst = Path(output) / f.relative_to(p).parent / out_name(f)
                jobs.append(Job(str(f), str(dst)))
        else:
            if output is None:
                dst = p.parent / out_name(p)
            elif as_file:
                dst = Path(output)
            else:
                dst = Path(output) / out_name(p)
            jobs.append(Job(str(p), str(dst)))
    return jobs


def chunk_plan(n_frames: int, chunk_frames: int, context_frames: int) -> list[tuple[int, int, int]]:
    """Cut ``n_frames`` frames into chunks with left context.

    Returns:
        ``(context_start, start, end)`` frame indices per chunk: the chunk is
        processed over ``[context_start, end)`` and keeps ``[start, end)``;
        ``context_start = max(0, start - context_frames)``.
    """
    if chunk_frames < 1 or context_frames < 0:
        raise ValueError("chunk_frames must be >= 1 and context_frames >= 0")
    plan = []
    for start in range(0, max(n_frames, 1), chunk_frames):
        plan.append((max(0, start - context_frames), start, min(start + chunk_frames, max(n_frames, 1))))
    return plan


# --------------------------------------------------------------------------- batched compute


def _encode_batch(codec: Codec, items: list[np.ndarray], n_codebooks: int) -> list[np.ndarray]:
    """Encode mono float32 ``[t_i]`` arrays in one forward pass -> int64 ``[Q, ceil(t_i / hop)]`` each."""
    hop = codec.hop_length
    lengths = [max(1, len(a)) for a in items]
    t_max = -(-max(lengths) // hop) * hop
    batch = np.zeros((len(items), 1, t_max), np.float32)
    for i, a in enumerate(items):
        batch[i, 0, : len(a)] = a
    codes = codec.encode(torch.from_numpy(batch), n_codebooks).numpy()
    return [codes[i, :, : -(-n // hop)] for i, n in enumerate(lengths)]


def _decode_batch(codec: Codec, items: list[np.ndarray]) -> list[np.ndarray]:
    """Decode int64 ``[Q, f_i]`` arrays in one forward pass -> float32 ``[f_i * hop]`` each."""
    hop = codec.hop_length
    q = items[0].shape[0]
    f_max = max(c.shape[1] for c in items)
    batch = np.zeros((len(items), q, f_max), np.int64)
    for i, c in enumerate(items):
        batch[i, :, : c.shape[1]] = c
    audio = codec.decode(torch.from_numpy(batch)).numpy()
    return [audio[i, 0, : c.shape[1] * hop] for i, c in enumerate(items)]


def _default_batch_size(on_cuda: bool) -> int:
    """Chunks per forward pass when none is asked for: :data:`DEFAULT_BATCH_SIZE_CUDA` on CUDA, else ``_CPU``."""
    return DEFAULT_BATCH_SIZE_CUDA if on_cuda else DEFAULT_BATCH_SIZE_CPU


def _frames(seconds: float, codec_or_spec) -> int:
    spec = codec_or_spec.spec if isinstance(codec_or_spec, Codec) else codec_or_spec
    return int(math.ceil(seconds * spec.sample_rate / spec.hop_length - 1e-9))


def encode_array(
    codec: Codec,
    audio: np.ndarray,
    n_codebooks: int,
    *,
    chunk_s: float = DEFAULT_CHUNK_S,
    context_s: float = DEFAULT_CONTEXT_S,
    batch_size: int | None = None,
) -> np.ndarray:
    """Encode one mono signal already at the codec rate, in chunks with left context.

    Args:
        codec: a loaded codec.
        audio: float32 ``[T]`` at ``codec.sample_rate`` Hz, in [-1, 1].
        n_codebooks: codebooks to emit (sets the bitrate).
        chunk_s: chunk length (s, rounded up to whole frames).
        context_s: left context per chunk (s, rounded up to whole frames).
        batch_size: chunks per forward pass; None for the engine's default on the codec's
            device (1 on a CPU, where one chunk at a time measured fastest; 8 on CUDA).

    Returns:
        int64 ``[n_codebooks, F]`` with ``F = max(1, ceil(T / hop_length))``.
    """
    audio = np.asarray(audio, dtype=np.float32).reshape(-1)
    batch_size = batch_size or _default_batch_size(codec.device.type == "cuda")
    hop = codec.hop_length
    n_frames = max(1, -(-len(audio) // hop))
    plan = chunk_plan(n_frames, max(1, _frames(chunk_s, codec)), _frames(context_s, codec))
    out = []
    for b in range(0, len(plan), batch_size):
        group = plan[b : b + batch_size]
        items = [audio[c0 * hop : e * hop] for c0, _, e in group]
        for (c0, s, _), codes in zip(group, _encode_batch(codec, items, n_codebooks)):
            out.append(codes[:, s - c0 :])
    return np.concatenate(out, axis=1)


def decode_array(
    codec: Codec,
    codes: np.ndarray,
    *,
    chunk_s: float = DEFAULT_CHUNK_S,
    context_s: float = DEFAULT_CONTEXT_S,
    batch_size: int | None = None,
) -> np.ndarray:
    """Decode codes in chunks with left-context frames.

    Args:
        codec: a loaded codec.
        codes: int64 ``[Q, F]``.
        chunk_s, context_s, batch_size: as in :func:`encode_array`.

    Returns:
        float32 ``[F * hop_length]`` at ``codec.sample_rate`` Hz, in [-1, 1].
    """
    codes = np.asarray(codes, dtype=np.int64)
    batch_size = batch_size or _default_batch_size(codec.device.type == "cuda")
    hop = codec.hop_length
    plan = chunk_plan(codes.shape[1], max(1, _frames(chunk_s, codec)), _frames(context_s, codec))
    out = []
    for b in range(0, len(plan), batch_size):
        group = plan[b : b + batch_size]
        items = [codes[:, c0:e] for c0, _, e in group]
        for (c0, s, _), audio in zip(group, _decode_batch(codec, items)):
            out.append(audio[(s - c0) * hop :])
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def make_header(codec: Codec, n_codebooks: int, *, input_sample_rate: int, input_channels: int,
                n_samples: int) -> "container.Header":
    """The `.nsc` header for audio encoded by ``codec`` with ``n_codebooks`` codebooks.

    Args:
        n_samples: input samples per channel at ``input_sample_rate`` Hz.
    """
    spec = codec.spec
    bits = tuple(int(math.log2(s)) for s in spec.codebook_sizes[:n_codebooks])
    return container.Header(
        codec_id=spec.wire_id,
        fingerprint=codec.fingerprint,
        sample_rate=spec.sample_rate,
        input_sample_rate=int(input_sample_rate),
        input_channels=int(input_channels),
        n_samples=int(n_samples),
        hop_length=spec.hop_length,
        bits=bits,
        bitrate_bps=int(round(spec.bitrate_kbps(n_codebooks) * 1000)),
        payload_kind=spec.payload_kind,
    )


def check_fingerprint(codec: Codec, header) -> None:
    """Refuse to decode a file made with other weights than ``codec``'s.

    Raises:
        WeightsError: the fingerprints differ; the message names both (hex).
    """
    if bytes(header.fingerprint) != bytes(codec.fingerprint):
        raise WeightsError(
            f"encoded with {codec.spec.name} weights {bytes(header.fingerprint).hex()}, but the loaded "
            f"weights are {codec.fingerprint.hex()}; decode with the weights it was made with "
            "(NSC_WEIGHTS_DIR)"
        )


# --------------------------------------------------------------------------- reporting


@dataclass
class FileResult:
    """What happened to one input.

    Attributes:
        src, dst: as in the :class:`Job`.
        ok: the output was written completely.
        error: one-line reason when not ``ok``.
        audio_s: seconds of audio processed.
        bytes_in, bytes_out: file sizes (bytes).
        notices: one-line notes (resampling, channel mix, salvaged ranges).
        lost: ``(start_s, end_s, reason)`` ranges replaced by silence (``--salvage``).
    """

    src: str
    dst: str
    ok: bool = False
    error: str | None = None
    audio_s: float = 0.0
    bytes_in: int = 0
    bytes_out: int = 0
    notices: list[str] = field(default_factory=list)
    lost: list[tuple[float, float, str]] = field(default_factory=list)

    @property
    def kbps(self) -> float:
        """Whole-file bitrate of the compressed side (kbit/s): output for encode, input for decode."""
        nbytes = self.bytes_out if self.dst.endswith(".nsc") else self.bytes_in
        return nbytes * 8 / self.audio_s / 1000 if self.audio_s else 0.0


@dataclass
class BatchReport:
    """Summary of a batch.

    Attributes:
        results: one :class:`FileResult` per job, in job order.
        wall_s: elapsed wall-clock time (s).
    """

    results: list[FileResult]
    wall_s: float

    @property
    def ok(self) -> list[FileResult]:
        """Results written completely."""
        return [r for r in self.results if r.ok]

    @property
    def failed(self) -> list[FileResult]:
        """Results that failed."""
        return [r for r in self.results if not r.ok]

    @property
    def audio_s(self) -> float:
        """Seconds of audio processed in successful files."""
        return sum(r.audio_s for r in self.ok)

    @property
    def speed(self) -> float:
        """Audio seconds per wall-clock second (x real time)."""
        return self.audio_s / self.wall_s if self.wall_s > 0 else 0.0


class Listener:
    """Receives engine events (the CLI draws its progress bar from these). All methods are no-ops here."""

    def started(self, n_files: int, total_s: float) -> None:
        """A batch of ``n_files`` begins; ``total_s`` is its audio duration (s; 0 if unknown)."""

    def notice(self, src: str, message: str) -> None:
        """A one-line note about input ``src`` (resampling, channel mix, lost ranges)."""

    def advance(self, audio_s: float, bytes_out: int) -> None:
        """``audio_s`` more seconds were processed, and ``bytes_out`` compressed bytes handled."""

    def file_done(self, result: FileResult) -> None:
        """One input finished (successfully or not)."""


# --------------------------------------------------------------------------- outputs


class _Counting(io.RawIOBase):
    """Write-only wrapper counting bytes (for pipes)."""

    def __init__(self, f: BinaryIO) -> None:
        self.f = f
        self.count = 0

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:
        self.f.write(b)
        n = len(b)
        self.count += n
        return n

    def flush(self) -> None:
        self.f.flush()


class _Output:
    """A destination written safely: a temporary file beside it, renamed over it when complete."""

    def __init__(self, dst: str, *, force: bool, src: str) -> None:
        self.dst = dst
        self.tmp: str | None = None
        self.done = False
        self._lock = threading.Lock()
        if dst == STDIO:
            self.f = _Counting(_stdout())
            return
        p = Path(dst)
        if src != STDIO and Path(src).exists() and p.exists() and p.resolve() == Path(src).resolve():
            raise OutputExistsError(f"{dst}: output would overwrite the input")
        if p.is_dir():
            raise OutputExistsError(f"{dst}: output is an existing folder")
        if p.exists() and not force:
            raise OutputExistsError(f"{dst}: exists (use --force to overwrite)")
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, self.tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".part", dir=p.parent)
        self.f = _Counting(os.fdopen(fd, "wb"))

    @property
    def bytes_written(self) -> int:
        return self.f.count

    def commit(self) -> None:
        with self._lock:
            if self.done:
                return
            self.done = True
            self.f.flush()
            if self.tmp is not None:
                self.f.f.close()
                mode = 0o666 & ~_umask()
                os.chmod(self.tmp, mode)
                os.replace(self.tmp, self.dst)

    def abort(self) -> None:
        with self._lock:
            if self.done:
                return
            self.done = True
            if self.tmp is not None:
                try:
                    self.f.f.close()
                finally:
                    try:
                        os.unlink(self.tmp)
                    except FileNotFoundError:
                        pass


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _stdout() -> BinaryIO:
    return getattr(sys.stdout, "buffer", sys.stdout)


def _stdin() -> BinaryIO:
    return getattr(sys.stdin, "buffer", sys.stdin)


class _EncodeSink:
    def __init__(self, out: _Output, header) -> None:
        self.out = out
        self.writer = container.Writer(out.f, header)

    def write(self, codes: np.ndarray) -> None:
        self.writer.write_frames(codes)

    def finish(self) -> None:
        self.writer.close()
        self.out.commit()


class _DecodeSink:
    """Codec-rate audio in; exactly the header's length out (postfiltered, resampled if asked), damaged frames muted."""

    def __init__(self, out: _Output, header, out_rate: int, mute: list[tuple[int, int]], postfilter=None) -> None:
        self.out = out
        self.postfilter = postfilter
        self.codec_rate = header.sample_rate
        self.hop = header.hop_length
        self.remaining = header.codec_length
        self.pos = 0  # codec-rate samples received
        self.mute = [(a * self.hop, b * self.hop) for a, b in mute]
        if out_rate == header.input_sample_rate:
            n_out = header.n_samples
        else:
            n_out = resampled_length(header.codec_length, self.codec_rate, out_rate)
        self.stream = None
        if out_rate != self.codec_rate:
            self.stream = soxr.ResampleStream(self.codec_rate, out_rate, 1, dtype="float32", quality=RESAMPLE_QUALITY)
        self.wav = WavWriter(out.f, out_rate, n_out)

    def write(self, audio: np.ndarray) -> None:
        if self.postfilter is not None:
            audio = self.postfilter.process(audio)  # delayed by its look-ahead; flushed in finish()
        self._emit(audio)

    def _emit(self, audio: np.ndarray) -> None:
        audio = audio[: self.remaining]
        if self.mute:
            audio = audio.copy()
            for a, b in self.mute:
                lo, hi = max(a - self.pos, 0), min(b - self.pos, len(audio))
                if lo < hi:
                    audio[lo:hi] = 0.0
        self.pos += len(audio)
        self.remaining -= len(audio)
        if self.stream is not None:
            audio = self.stream.resample_chunk(audio, last=False)
        self.wav.write(audio)

    def finish(self) -> None:
        if self.postfilter is not None:
            self._emit(self.postfilter.flush())
        if self.stream is not None:
            self.wav.write(self.stream.resample_chunk(np.zeros(0, np.float32), last=True))
        self.wav.close()
        self.out.commit()


# --------------------------------------------------------------------------- the engine


@dataclass
class _Stream:
    job: Job
    index: int
    result: FileResult
    out: _Output | None = None
    sink: object | None = None
    codec: Codec | None = None
    failed: bool = False


@dataclass
class _Item:
    stream: _Stream
    data: np.ndarray  # audio [t] (encode) or codes [Q, f] (decode)
    drop: int  # leading frames of context to drop
    new_s: float  # seconds of new audio this item adds
    new_bytes: int = 0  # compressed bytes this item accounts for


@dataclass
class _End:
    stream: _Stream


@dataclass
class _Fail:
    stream: _Stream
    error: BaseException


def _item_seconds(m) -> float:
    """Audio seconds a queue message puts through the model (context included); 0 for non-items."""
    if not isinstance(m, _Item):
        return 0.0
    spec = m.stream.codec.spec
    n = m.data.shape[-1] if m.data.ndim == 1 else m.data.shape[1] * spec.hop_length
    return n / spec.sample_rate


def describe_error(e: BaseException) -> str:
    """One line describing an error (no traceback)."""
    if isinstance(e, NscError):
        return str(e)
    if isinstance(e, OSError):
        where = f"{e.filename}: " if e.filename else ""
        return f"{where}{e.strerror or e}"
    if isinstance(e, MemoryError):
        return "out of memory"
    return f"{type(e).__name__}: {e}".split("\n")[0]


class Engine:
    """Batched, streaming encoder/decoder of files (see the module docstring).

    Args:
        codec: a loaded :class:`~nsc.codec.Codec`, a codec name, or None (decode:
            the codec named in each file's header is loaded).
        n_codebooks: codebooks to emit when encoding (default: the codec's default).
        device: ``"auto"``, ``"cpu"`` or ``"cuda"`` for codecs the engine loads.
        batch_size: most chunks (files, or pieces of long files) per forward pass;
            default 1 on CPU, 8 on CUDA (``DEFAULT_BATCH_SIZE_*``).
        max_batch_s: most audio seconds per forward pass (a single chunk may exceed
            it); default 20 s on CPU, 600 s on CUDA.
        chunk_s: chunk length for long inputs (s).
        context_s: left context per chunk (s).
        workers: threads that read, resample and cut inputs.
        listener: receives progress events.
        codec_loader: ``name -> Codec`` used to load codecs (default :func:`~nsc.codec.load_codec`).
        postfilter: decoding applies :mod:`nsc.postfilter` (True), not (False), or as each
            codec's registry entry says (None).
        precision: the decoder's arithmetic for every codec the engine uses (see
            :mod:`nsc.models.precision`), or None to leave each codec's own
            (``"auto"`` for those the default loader loads).

    Raises:
        NscError: a bad ``batch_size``, ``chunk_s``, ``context_s`` or ``precision``.
    """

    def __init__(
        self,
        codec: Codec | str | None = None,
        *,
        n_codebooks: int | None = None,
        device: str = "auto",
        batch_size: int | None = None,
        max_batch_s: float | None = None,
        chunk_s: float = DEFAULT_CHUNK_S,
        context_s: float = DEFAULT_CONTEXT_S,
        workers: int = 2,
        listener: Listener | None = None,
        codec_loader: Callable[[str], Codec] | None = None,
        postfilter: bool | None = None,
        precision: str | None = None,
    ) -> None:
        self.postfilter = postfilter
        if precision is not None:
            from .models.precision import check_precision

            check_precision(precision)
        self.precision = precision
        if batch_size is not None and batch_size < 1:
            raise NscError("--batch-size must be at least 1")
        if chunk_s <= 0 or context_s < 0:
            raise NscError("chunk length must be positive and context non-negative")
        self.device = device
        self.chunk_s = chunk_s
        self.context_s = context_s
        self.workers = max(1, workers)
        self.listener = listener or Listener()
        self._loader = codec_loader or (lambda name: load_codec(name, device=self.device))
        self._codecs: dict[str, Codec] = {}
        self._lock = threading.Lock()
        self.codec: Codec | None = None
        if isinstance(codec, str):
            codec = self._loader(codec)
        if codec is not None:
            codec = self._with_precision(codec)
            self.codec = codec
            self._codecs[codec.spec.name] = codec
        self.n_codebooks = n_codebooks or (self.codec.spec.default_n_codebooks if self.codec else None)
        on_cuda = (self.codec.device.type if self.codec else str(resolve_device(device))).startswith("cuda")
        if max_batch_s is None:
            max_batch_s = DEFAULT_MAX_BATCH_S_CUDA if on_cuda else DEFAULT_MAX_BATCH_S_CPU
        self.max_batch_s = max_batch_s
        self.batch_size = _default_batch_size(on_cuda) if batch_size is None else batch_size

    # ---- codecs

    def codec_for(self, spec: CodecSpec) -> Codec:
        """The codec used for files of ``spec`` (loaded once, thread-safe).

        Raises:
            WeightsError, UnknownCodecError: as :func:`~nsc.codec.load_codec`.
        """
        with self._lock:
            if spec.name not in self._codecs:
                self._codecs[spec.name] = self._with_precision(self._loader(spec.name))
            return self._codecs[spec.name]

    def _with_precision(self, codec: Codec) -> Codec:
        return codec if self.precision is None else codec.with_precision(self.precision)

    # ---- public batch entry points

    def encode_files(self, jobs: Sequence[Job], *, force: bool = False) -> BatchReport:
        """Encode audio files to `.nsc` files.

        Each job fails on its own (missing or bad input, existing output without
        ``force``...) and the batch goes on; see :class:`BatchReport`.

        Raises:
            NscError: no codec was given to the engine.
        """
        if self.codec is None:
            raise NscError("encoding needs a codec")
        total = 0.0
        for j in jobs:
            if j.src != STDIO:
                try:
                    total += probe(j.src).duration_s
                except NscError:
                    pass
        self._mode, self._salvage = "encode", False
        return self._run(jobs, self._encode_producer, total, force)

    def decode_files(
        self,
        jobs: Sequence[Job],
        *,
        force: bool = False,
        sample_rate: int | str | None = None,
        salvage: bool = False,
    ) -> BatchReport:
        """Decode `.nsc` files to 16-bit WAV files.

        Args:
            sample_rate: None for the codec's rate, an int (Hz), or ``"original"``
                for the input's original rate and exact original length.
            salvage: decode the intact packets of a damaged file, fill damaged
                ones with silence and report the lost ranges; without it a
                damaged file fails.
        """
        if isinstance(sample_rate, str) and sample_rate != "original":
            raise NscError(f"sample rate must be a number of Hz or 'original', got {sample_rate!r}")
        if isinstance(sample_rate, int) and not 1000 <= sample_rate <= 384000:
            raise NscError(f"sample rate {sample_rate} Hz is out of range (1000-384000)")
        total = 0.0
        for j in jobs:
            if j.src != STDIO:
                try:
                    with open(j.src, "rb") as f:
                        total += container.read_header(f).duration_s
                except Exception:  # counted as 0; the job reports the error itself
                    pass
        self._decode_rate = sample_rate
        self._mode, self._salvage = "decode", salvage
        return self._run(jobs, self._decode_producer, total, force)

    # ---- producers (run in worker threads)

    def _chunk_frames(self, spec) -> tuple[int, int]:
        return max(1, _frames(self.chunk_s, spec)), _frames(self.context_s, spec)

    def _encode_producer(self, st: _Stream, force: bool) -> Iterator[_Item]:
        codec = self.codec
        assert codec is not None
        st.codec = codec
        spool = None
        src: object = st.job.src
        if src == STDIO:
            spool = tempfile.SpooledTemporaryFile(max_size=32 << 20)
            shutil.copyfileobj(_stdin(), spool)
            spool.seek(0)
            src = spool
        try:
            reader = AudioReader(src, codec.sample_rate)
            try:
                info = reader.info
                st.result.bytes_in = (
                    os.path.getsize(st.job.src) if st.job.src != STDIO else spool.tell() if spool else 0
                )
                for n in reader.notices:
                    st.result.notices.append(n)
                    self.listener.notice(st.job.src, n)
                header = make_header(codec, self.n_codebooks, input_sample_rate=info.sample_rate,
                                     input_channels=info.channels, n_samples=info.n_samples)
                st.out = _Output(st.job.dst, force=force, src=st.job.src)
                st.sink = _EncodeSink(st.out, header)
                yield from self._cut_audio(st, reader, header)
                for n in reader.notices[len(st.result.notices):]:
                    st.result.notices.append(n)
                    self.listener.notice(st.job.src, n)
            finally:
                reader.close()
        finally:
            if spool is not None:
                spool.close()

    def _cut_audio(self, st: _Stream, reader: AudioReader, header) -> Iterator[_Item]:
        hop = header.hop_length
        chunk_frames, ctx_frames = self._chunk_frames(st.codec.spec)
        chunk, ctx = chunk_frames * hop, ctx_frames * hop
        sr = header.sample_rate
        history = np.zeros(0, np.float32)  # left context (whole frames)
        buf: list[np.ndarray] = []
        n_buf = 0
        emitted = False
        for block in reader.blocks():
            buf.append(block)
            n_buf += len(block)
            while n_buf >= chunk:
                data = np.concatenate(buf)
                new, rest = data[:chunk], data[chunk:]
                buf, n_buf = [rest], len(rest)
                yield _Item(st, np.concatenate([history, new]), len(history) // hop, chunk / sr)
                seen = np.concatenate([history, new])
                history = seen[len(seen) - min(ctx, len(seen)):] if ctx else np.zeros(0, np.float32)
                emitted = True
                if st.failed:
                    return
        if n_buf or not emitted:
            new = np.concatenate(buf) if buf else np.zeros(0, np.float32)
            if not len(new):
                new = np.zeros(1, np.float32)  # fewer than one codec-rate sample: still one frame
                secs = header.codec_length / sr
            else:
                secs = len(new) / sr
            yield _Item(st, np.concatenate([history, new]), len(history) // hop, secs)

    def _decode_producer(self, st: _Stream, force: bool) -> Iterator[_Item]:
        src = st.job.src
        f = _stdin() if src == STDIO else open(src, "rb")
        try:
            if src != STDIO:
                st.result.bytes_in = os.path.getsize(src)
            if self._salvage:
                data = f.read()
                st.result.bytes_in = len(data)
                header, codes, damages = container.salvage(data)
                mute = []
                codes = np.where(codes < 0, 0, codes)  # container.LOST frames: decoded, then muted
                for d in damages:
                    if d.n_frames:
                        mute.append((d.first_frame, d.first_frame + d.n_frames))
                    lost = (float(d.start_s), float(d.end_s), str(d.reason))
                    st.result.lost.append(lost)
                    msg = f"lost {lost[0]:.2f}-{lost[1]:.2f} s ({lost[2]}); filled with silence"
                    st.result.notices.append(msg)
                    self.listener.notice(src, msg)
                packets: Iterator[np.ndarray] = iter([codes])
            else:
                header = container.read_header(f)
                mute = []
                packets = (p for _, p in container.iter_packets(f, header))
            spec = spec_for_wire_id(header.codec_id)
            codec = self.codec_for(spec)
            check_fingerprint(codec, header)
            st.codec = codec
            out_rate = (
                header.sample_rate if self._decode_rate is None
                else header.input_sample_rate if self._decode_rate == "original"
                else int(self._decode_rate)
            )
            if out_rate != header.sample_rate:
                msg = f"resampled {header.sample_rate} Hz -> {out_rate} Hz"
                st.result.notices.append(msg)
            st.out = _Output(st.job.dst, force=force, src=src)
            st.sink = _DecodeSink(st.out, header, out_rate, mute, postfilter_for(spec, self.postfilter))
            yield from self._cut_codes(st, packets, header)
        finally:
            if src != STDIO:
                f.close()

    def _cut_codes(self, st: _Stream, packets: Iterator[np.ndarray], header) -> Iterator[_Item]:
        chunk, ctx = self._chunk_frames(st.codec.spec)
        sr, hop = header.sample_rate, header.hop_length
        history = None
        buf: list[np.ndarray] = []
        n_buf = 0
        n_total = header.n_frames
        bytes_per_frame = st.result.bytes_in / max(n_total, 1)
        done = 0

        def item(new: np.ndarray) -> _Item:
            nonlocal done
            data = new if history is None else np.concatenate([history, new], axis=1)
            drop = 0 if history is None else history.shape[1]
            start = done * hop
            done += new.shape[1]
            secs = (min(done * hop, header.codec_length) - min(start, header.codec_length)) / sr
            return _Item(st, data, drop, secs, int(bytes_per_frame * new.shape[1]))

        for p in packets:
            p = np.asarray(p, dtype=np.int64)
            buf.append(p)
            n_buf += p.shape[1]
            while n_buf >= chunk:
                data = np.concatenate(buf, axis=1)
                new, rest = data[:, :chunk], data[:, chunk:]
                buf, n_buf = [rest], rest.shape[1]
                yield item(new)
                seen = new if history is None else np.concatenate([history, new], axis=1)
                history = seen[:, seen.shape[1] - min(ctx, seen.shape[1]):] if ctx else None
                if st.failed:
                    return
        if n_buf:
            yield item(np.concatenate(buf, axis=1))
        if done != n_total:
            raise FormatError(f"holds {done} frames, its header says {n_total}")

    # ---- the consumer loop (main thread)

    def _run(self, jobs: Sequence[Job], producer, total_s: float, force: bool) -> BatchReport:
        t0 = time.perf_counter()
        streams = [_Stream(j, i, FileResult(j.src, j.dst)) for i, j in enumerate(jobs)]
        self.listener.started(len(jobs), total_s)
        q: queue.Queue = queue.Queue(maxsize=max(4, 2 * self.batch_size))
        stop = threading.Event()
        seen_dst: set[str] = set()
        dup = set()
        for st in streams:
            key = os.path.abspath(st.job.dst) if st.job.dst != STDIO else None
            if key is not None and key in seen_dst:
                dup.add(st.index)
            elif key is not None:
                seen_dst.add(key)

        def put(msg) -> bool:
            while not stop.is_set():
                try:
                    q.put(msg, timeout=0.1)
                    return True
                except queue.Full:
                    continue
            return False

        def work(st: _Stream) -> None:
            try:
                if st.index in dup:
                    raise OutputExistsError(f"{st.job.dst}: another input in this batch has the same output")
                if st.job.src != STDIO and not Path(st.job.src).exists():
                    raise AudioError(f"{st.job.src}: no such file")
                for it in producer(st, force):
                    if not put(it) or st.failed:
                        break
                put(_End(st))
            except BaseException as e:  # reported per file; the batch goes on
                put(_Fail(st, e))

        open_streams = len(streams)
        executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="nsc-io")
        try:
            for st in streams:
                executor.submit(work, st)
            while open_streams:
                msgs = [q.get()]
                n_items = isinstance(msgs[0], _Item)
                secs = _item_seconds(msgs[0])
                while n_items < self.batch_size and secs < self.max_batch_s:
                    try:
                        m = q.get_nowait()
                    except queue.Empty:
                        break
                    msgs.append(m)
                    n_items += isinstance(m, _Item)
                    secs += _item_seconds(m)
                results = self._compute([m for m in msgs if isinstance(m, _Item) and not m.stream.failed])
                for m in msgs:
                    if isinstance(m, _Item):
                        if m.stream.failed:
                            continue
                        try:
                            out = results[id(m)]
                            if isinstance(out, BaseException):
                                raise out
                            before = m.stream.out.bytes_written
                            m.stream.sink.write(out)
                            m.stream.result.audio_s += m.new_s
                            nbytes = m.new_bytes or (m.stream.out.bytes_written - before)
                            self.listener.advance(m.new_s, nbytes)
                        except Exception as e:  # noqa: BLE001 - per-file failure
                            self._fail(m.stream, e)
                    elif isinstance(m, _End):
                        open_streams -= 1
                        if not m.stream.failed:
                            try:
                                m.stream.sink.finish()
                                m.stream.result.ok = True
                                m.stream.result.bytes_out = m.stream.out.bytes_written
                            except Exception as e:  # noqa: BLE001
                                self._fail(m.stream, e)
                        self.listener.file_done(m.stream.result)
                    elif isinstance(m, _Fail):
                        open_streams -= 1
                        if isinstance(m.error, (KeyboardInterrupt, SystemExit)):
                            raise m.error
                        if not m.stream.failed:
                            self._fail(m.stream, m.error)
                        self.listener.file_done(m.stream.result)
        except BaseException:
            stop.set()
            for st in streams:
                st.failed = True
            executor.shutdown(wait=True, cancel_futures=True)
            for st in streams:
                if st.out is not None:
                    st.out.abort()
            raise
        executor.shutdown(wait=True)
        return BatchReport([st.result for st in streams], time.perf_counter() - t0)

    def _fail(self, st: _Stream, e: BaseException) -> None:
        st.failed = True
        st.result.ok = False
        msg = describe_error(e)
        if isinstance(e, FormatError) and self._mode == "decode" and not self._salvage:
            msg += " (use --salvage to decode the intact parts)"
        name = st.job.src if st.job.src != STDIO else "<stdin>"
        st.result.error = msg if msg.startswith(name) else f"{name}: {msg}"
        if st.out is not None:
            st.out.abort()

    def _compute(self, items: list[_Item]) -> dict[int, object]:
        """Run forward passes for the items, grouped by codec; returns id(item) -> output or error."""
        out: dict[int, object] = {}
        groups: dict[int, list[_Item]] = {}
        for it in items:
            groups.setdefault(id(it.stream.codec), []).append(it)
        for group in groups.values():
            codec = group[0].stream.codec
            hop = codec.hop_length
            try:
                if isinstance(group[0].stream.sink, _EncodeSink):
                    res = _encode_batch(codec, [it.data for it in group], self.n_codebooks)
                    for it, codes in zip(group, res):
                        out[id(it)] = codes[:, it.drop :]
                else:
                    res = _decode_batch(codec, [it.data for it in group])
                    for it, audio in zip(group, res):
                        out[id(it)] = audio[it.drop * hop :]
            except (RuntimeError, ValueError, MemoryError) as e:
                for it in group:
                    out[id(it)] = e
        return out
