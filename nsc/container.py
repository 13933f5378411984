"""The `.nsc` container, format version 1.0: header + CRC-protected packets of bit-packed indices.

The byte layout is declared once, below, with ``construct`` (:data:`PREAMBLE`,
:data:`HEADER_BODY`, :data:`HEADER`, :data:`PACKET`); ``formats/nsc-container-v1.md``
is the normative description and ``formats/nsc.ksy`` the Kaitai Struct one.

Layout in one breath: an 8-byte preamble (magic ``NSCF``, major, minor, header
size), the header body (codec id, weights fingerprint, rates, sample count, hop,
per-codebook bit widths, ...), a CRC-32 of all header bytes; then
``ceil(n_frames / frames_per_packet)`` packets, each ``uint16 length | payload |
CRC-32(length + payload)``. All integers are big-endian. The number of frames is
*derived* from the header (:func:`n_frames`), never stored, so every packet's
size and byte offset are known from the header alone: a damaged packet cannot
desynchronise the ones after it.

Pure functions of bytes and numpy arrays; no torch, no pickle, no I/O besides the
file objects handed in.
"""

from __future__ import annotations

import io
import math
import operator
import zlib
from dataclasses import dataclass
from typing import BinaryIO, Callable, Iterator

import numpy as np
from construct import (
    Array,
    Bytes,
    ChecksumError,
    Checksum,
    Const,
    ConstError,
    ConstructError,
    GreedyBytes,
    Int8ub,
    Int16ub,
    Int32ub,
    Int64ub,
    RawCopy,
    Rebuild,
    Struct,
    len_,
    this,
)

from .bitpack import MAX_BITS, pack_bits, packed_size, unpack_bits
from .errors import FormatError

__all__ = [
    "MAGIC",
    "FORMAT_MAJOR",
    "FORMAT_MINOR",
    "PAYLOAD_KIND_VQ",
    "PAYLOAD_KINDS",
    "DEFAULT_FRAMES_PER_PACKET",
    "PACKET_FRAMING_BYTES",
    "LOST",
    "PREAMBLE",
    "HEADER_BODY",
    "HEADER",
    "PACKET",
    "Header",
    "PacketSpan",
    "PacketDamage",
    "PacketStatus",
    "Report",
    "Writer",
    "codec_length",
    "n_frames",
    "header_size",
    "packet_spans",
    "payload_size",
    "file_size",
    "overhead",
    "payload_bitrate_bps",
    "file_bitrate_bps",
    "pack",
    "unpack",
    "read_header",
    "iter_packets",
    "salvage",
    "inspect",
]

#: First 4 bytes of every `.nsc` file, in every format version.
MAGIC = b"NSCF"
#: Format version this module writes. Readers reject another major, accept any minor.
FORMAT_MAJOR = 1
FORMAT_MINOR = 0
#: Payload kind 0: fixed-width, bit-packed VQ indices (:mod:`nsc.bitpack`).
PAYLOAD_KIND_VQ = 0
#: Payload kinds a 1.x reader understands; 1..255 are reserved (entropy-coded codecs).
PAYLOAD_KINDS = {PAYLOAD_KIND_VQ: "bit-packed VQ indices"}
#: Frames per packet written by default: 4 s at 50 frames/s, keeps framing under 5 %
#: of the payload at 1.2 kbit/s from 10 s on (see the spec, section 6).
DEFAULT_FRAMES_PER_PACKET = 200
#: Bytes each packet adds around its payload: uint16 length + CRC-32.
PACKET_FRAMING_BYTES = 6
#: Index value :func:`salvage` writes into every frame of a damaged packet.
LOST = -1

_PREAMBLE_SIZE = 8
_CRC_SIZE = 4
#: Header bytes besides the bits array and extension: preamble 8 + fixed body 40 + CRC 4.
_HEADER_FIXED_SIZE = 52
_MAX_PACKET_PAYLOAD = 0xFFFF


def _crc32(data: bytes) -> int:
    """CRC-32/ISO-HDLC (zlib, PNG, Ethernet): check value crc32(b"123456789") = 0xCBF43926."""
    return zlib.crc32(data) & 0xFFFFFFFF


# --- the byte layout, declared once --------------------------------------------------

#: Bytes 0..7, identical in every major version: a reader always parses these first.
PREAMBLE = Struct(
    "magic" / Const(MAGIC),
    "version_major" / Int8ub,
    "version_minor" / Int8ub,
    # total header bytes, preamble and CRC included; lets a 1.0 reader skip fields a 1.x adds
    "header_size" / Rebuild(Int16ub, lambda ctx: _PREAMBLE_SIZE + len(ctx._.body) + _CRC_SIZE),
)

#: Header bytes 8 .. header_size-4 (format 1.x). A newer minor version appends fields
#: after ``bits``; a 1.0 reader keeps them, unread, in ``extension``.
HEADER_BODY = Struct(
    "codec_id" / Int16ub,  # registry wire id
    "payload_kind" / Int8ub,  # 0 = bit-packed VQ indices
    "n_codebooks" / Rebuild(Int8ub, len_(this.bits)),
    "fingerprint" / Bytes(8),  # weights fingerprint
    "sample_rate" / Int32ub,  # codec sample rate, Hz
    "input_sample_rate" / Int32ub,  # original input sample rate, Hz
    "input_channels" / Int16ub,
    "frames_per_packet" / Int16ub,
    "hop_length" / Int32ub,  # samples per frame at sample_rate
    "bitrate_bps" / Int32ub,  # nominal bitrate, bit/s
    "n_samples" / Int64ub,  # samples of the original input, per channel, at input_sample_rate
    "bits" / Array(this.n_codebooks, Int8ub),  # bits per index of each codebook
    "extension" / GreedyBytes,  # fields of newer minor versions (empty in 1.0)
)

#: The whole header: preamble + body, then the CRC-32 of every byte before it.
HEADER = Struct(
    "signed"
    / RawCopy(
        Struct(
            "preamble" / PREAMBLE,
            "body" / Bytes(this.preamble.header_size - _PREAMBLE_SIZE - _CRC_SIZE),  # HEADER_BODY
        )
    ),
    "header_crc" / Checksum(Int32ub, _crc32, this.signed.data),
)

#: One packet: payload length, payload (``n`` frames bit-packed), CRC-32 of length + payload.
PACKET = Struct(
    "signed"
    / RawCopy(
        Struct(
            "length" / Rebuild(Int16ub, len_(this.payload)),
            "payload" / Bytes(this.length),
        )
    ),
    "packet_crc" / Checksum(Int32ub, _crc32, this.signed.data),
)


# --- the header as a value -----------------------------------------------------------


def _as_int(name: str, value) -> int:
    try:
        return operator.index(value)  # ints and numpy integers; not floats or strings
    except TypeError:
        raise ValueError(f"{name} must be an integer, got {value!r}") from None


def _check_uint(name: str, value: int, bits: int, minimum: int = 0) -> None:
    if not minimum <= value < (1 << bits):
        raise ValueError(f"{name} = {value} is outside {minimum}..{(1 << bits) - 1}")


@dataclass(frozen=True)
class Header:
    """Everything a `.nsc` header stores.

    Attributes:
        codec_id: registry wire id of the codec (uint16).
        fingerprint: 8 bytes identifying the weights that made the codes.
        sample_rate: codec sample rate, Hz.
        input_sample_rate: sample rate of the original input, Hz.
        input_channels: channel count of the original input.
        n_samples: exact length of the original input in samples per channel, at
            ``input_sample_rate`` (uint64).
        hop_length: codec samples per frame; ``frame_rate = sample_rate / hop_length``.
        bits: bits per index of each codebook used, in transmission order (1..16 each).
        bitrate_bps: nominal bitrate, bit/s (informative).
        frames_per_packet: frames per packet; the last packet may hold fewer.
        payload_kind: 0 = bit-packed VQ indices; other values reserved.
        version_major, version_minor: format version; files written by :func:`pack`
            are 1.0, files read keep the version they declare (1.x).

    Raises:
        ValueError: a field is out of range for its wire type, ``bits`` is empty or
            has a width outside 1..16, or one packet would exceed 65535 payload bytes.
    """

    codec_id: int
    fingerprint: bytes
    sample_rate: int
    input_sample_rate: int
    input_channels: int
    n_samples: int
    hop_length: int
    bits: tuple[int, ...]
    bitrate_bps: int
    frames_per_packet: int = DEFAULT_FRAMES_PER_PACKET
    payload_kind: int = PAYLOAD_KIND_VQ
    version_major: int = FORMAT_MAJOR
    version_minor: int = FORMAT_MINOR

    def __post_init__(self) -> None:
        for name in (
            "codec_id", "sample_rate", "input_sample_rate", "input_channels", "n_samples",
            "hop_length", "bitrate_bps", "frames_per_packet", "payload_kind",
            "version_major", "version_minor",
        ):
            object.__setattr__(self, name, _as_int(name, getattr(self, name)))
        object.__setattr__(self, "bits", tuple(_as_int("bits", b) for b in self.bits))
        object.__setattr__(self, "fingerprint", bytes(self.fingerprint))
        if len(self.fingerprint) != 8:
            raise ValueError(f"fingerprint must be 8 bytes, got {len(self.fingerprint)}")
        _check_uint("codec_id", self.codec_id, 16)
        _check_uint("sample_rate", self.sample_rate, 32, 1)
        _check_uint("input_sample_rate", self.input_sample_rate, 32, 1)
        _check_uint("input_channels", self.input_channels, 16, 1)
        _check_uint("n_samples", self.n_samples, 64)
        _check_uint("hop_length", self.hop_length, 32, 1)
        _check_uint("bitrate_bps", self.bitrate_bps, 32)
        _check_uint("frames_per_packet", self.frames_per_packet, 16, 1)
        _check_uint("payload_kind", self.payload_kind, 8)
        _check_uint("version_major", self.version_major, 8)
        _check_uint("version_minor", self.version_minor, 8)
        if not 1 <= len(self.bits) <= 255:
            raise ValueError(f"n_codebooks must be 1..255, got {len(self.bits)}")
        for q, b in enumerate(self.bits):
            if not 1 <= b <= MAX_BITS:
                raise ValueError(f"bits[{q}] = {b} is outside 1..{MAX_BITS}")
        if packed_size(self.bits, self.frames_per_packet) > _MAX_PACKET_PAYLOAD:
            raise ValueError(
                f"{self.frames_per_packet} frames of {sum(self.bits)} bits exceed the "
                f"{_MAX_PACKET_PAYLOAD}-byte packet limit; use fewer frames_per_packet"
            )

    @property
    def n_codebooks(self) -> int:
        """Number of codebooks used (Q)."""
        return len(self.bits)

    @property
    def bits_per_frame(self) -> int:
        """Bits of one frame's indices, ``sum(bits)``."""
        return sum(self.bits)

    @property
    def frame_rate(self) -> float:
        """Frames per second (Hz), exactly ``sample_rate / hop_length``."""
        return self.sample_rate / self.hop_length

    @property
    def duration_s(self) -> float:
        """Duration of the original input in seconds, ``n_samples / input_sample_rate``."""
        return self.n_samples / self.input_sample_rate

    @property
    def codec_length(self) -> int:
        """Input length in samples at ``sample_rate`` (rounded half up); see :func:`codec_length`."""
        return codec_length(self)

    @property
    def n_frames(self) -> int:
        """Number of frames F the payload holds; see :func:`n_frames`."""
        return n_frames(self)

    @property
    def n_packets(self) -> int:
        """Number of packets, ``ceil(n_frames / frames_per_packet)``."""
        return -(-self.n_frames // self.frames_per_packet)


def codec_length(header: Header) -> int:
    """Length of the input resampled to the codec rate, in samples.

    ``(n_samples * sample_rate + input_sample_rate // 2) // input_sample_rate``
    (exact integer arithmetic, rounding half up). The engine uses the same formula.
    """
    return (header.n_samples * header.sample_rate + header.input_sample_rate // 2) // header.input_sample_rate


def n_frames(header: Header) -> int:
    """Frames in the payload: ``max(1, ceil(codec_length / hop_length))``.

    Derived from the header, never stored: readers and writers must agree on it.
    """
    return max(1, -(-codec_length(header) // header.hop_length))


def header_size(header: Header) -> int:
    """Bytes of the header :func:`pack` writes for ``header``: ``52 + n_codebooks``."""
    return _HEADER_FIXED_SIZE + header.n_codebooks


@dataclass(frozen=True)
class PacketSpan:
    """Where one packet sits in time and how big its payload is.

    Attributes:
        index: packet number, from 0.
        first_frame: index of its first frame.
        n_frames: frames it holds (``frames_per_packet``, fewer for the last one).
        payload_bytes: ``ceil(n_frames * sum(bits) / 8)``.
        start_s, end_s: time range it covers in seconds, ``frame * hop_length / sample_rate``;
            ``end_s`` is clipped to the input's end (``codec_length / sample_rate``).
    """

    index: int
    first_frame: int
    n_frames: int
    payload_bytes: int
    start_s: float
    end_s: float

    def describe(self) -> str:
        """``"packet 2 (frames 400-499, 8.000-10.000 s)"``."""
        last = self.first_frame + self.n_frames - 1
        return (
            f"packet {self.index} (frames {self.first_frame}-{last}, "
            f"{self.start_s:.3f}-{self.end_s:.3f} s)"
        )


def packet_spans(header: Header) -> list[PacketSpan]:
    """Every packet's frame range, time range and payload size, in order."""
    total, fpp, sr, hop = header.n_frames, header.frames_per_packet, header.sample_rate, header.hop_length
    end_samples = header.codec_length
    spans = []
    for index, first in enumerate(range(0, total, fpp)):
        count = min(fpp, total - first)
        start = first * hop
        end = max(start, min((first + count) * hop, end_samples))
        spans.append(
            PacketSpan(index, first, count, packed_size(header.bits, count), start / sr, end / sr)
        )
    return spans


def payload_size(header: Header) -> int:
    """Payload bytes of all packets together (padding bits to a byte per packet included)."""
    full, rest = divmod(header.n_frames, header.frames_per_packet)
    return full * packed_size(header.bits, header.frames_per_packet) + packed_size(header.bits, rest)


def file_size(header: Header) -> int:
    """Bytes of the file :func:`pack` writes: header + packets (payload + 6 bytes each)."""
    return header_size(header) + header.n_packets * PACKET_FRAMING_BYTES + payload_size(header)


def overhead(header: Header, file_size: int) -> float:
    """Container overhead as a fraction of the payload: ``(file_size - payload) / payload``.

    Args:
        header: the file's header.
        file_size: the file's size in bytes (``len(data)``); header, framing and any
            trailing bytes all count as overhead.
    """
    payload = payload_size(header)
    return (file_size - payload) / payload


def payload_bitrate_bps(header: Header) -> float:
    """Payload bits per second of input: ``payload_size * 8 / duration_s`` (nan if empty input)."""
    if header.n_samples == 0:
        return math.nan
    return payload_size(header) * 8 / header.duration_s


def file_bitrate_bps(header: Header, file_size: int) -> float:
    """Whole-file bits per second of input: ``file_size * 8 / duration_s`` (nan if empty input)."""
    if header.n_samples == 0:
        return math.nan
    return file_size * 8 / header.duration_s


# --- writing -------------------------------------------------------------------------


def _check_writable(header: Header) -> None:
    if (header.version_major, header.version_minor) != (FORMAT_MAJOR, FORMAT_MINOR):
        raise ValueError(
            f"this nsc writes format {FORMAT_MAJOR}.{FORMAT_MINOR} only, header says "
            f"{header.version_major}.{header.version_minor}; use dataclasses.replace(header, "
            f"version_major={FORMAT_MAJOR}, version_minor={FORMAT_MINOR})"
        )
    if header.payload_kind not in PAYLOAD_KINDS:
        raise ValueError(f"payload kind {header.payload_kind} is reserved; this nsc writes kind 0")


def _encode_header(header: Header, extension: bytes = b"") -> bytes:
    body = HEADER_BODY.build(
        dict(
            codec_id=header.codec_id,
            payload_kind=header.payload_kind,
            fingerprint=header.fingerprint,
            sample_rate=header.sample_rate,
            input_sample_rate=header.input_sample_rate,
            input_channels=header.input_channels,
            frames_per_packet=header.frames_per_packet,
            hop_length=header.hop_length,
            bitrate_bps=header.bitrate_bps,
            n_samples=header.n_samples,
            bits=list(header.bits),
            extension=extension,
        )
    )
    preamble = dict(version_major=header.version_major, version_minor=header.version_minor)
    return HEADER.build(dict(signed=dict(value=dict(preamble=preamble, body=body)), header_crc=None))


def _check_codes(codes: np.ndarray, header: Header, first_frame: int) -> np.ndarray:
    codes = np.asarray(codes)
    if codes.ndim != 2 or codes.shape[0] != header.n_codebooks:
        raise ValueError(
            f"codes must have shape [{header.n_codebooks}, frames], got {list(codes.shape)}"
        )
    if codes.dtype.kind not in "iu":
        raise ValueError(f"codes must be an integer array, got dtype {codes.dtype}")
    if codes.size:
        limits = np.asarray([1 << b for b in header.bits], dtype=np.int64)[:, None]
        bad = (codes < 0) | (codes.astype(np.int64, copy=False) >= limits)
        if bad.any():
            q, f = (int(i[0]) for i in np.nonzero(bad))
            raise ValueError(
                f"index {int(codes[q, f])} at codebook {q}, frame {first_frame + f} "
                f"does not fit in {header.bits[q]} bits"
            )
    return codes


class Writer:
    """Streaming `.nsc` writer: header at once, then one packet per ``frames_per_packet`` frames.

    Writes the header on construction and each packet as soon as its frames are
    in, so memory stays bounded by one packet. Does not close ``fileobj``.

    Usage::

        with Writer(f, header) as w:
            for chunk in chunks:       # int [Q, f] each, any f
                w.write_frames(chunk)

    Args:
        fileobj: binary file object open for writing (only ``write`` is used).
        header: header to write; must be format 1.0 with payload kind 0.
    Raises:
        ValueError: the header is not writable by this version.
    """

    def __init__(self, fileobj: BinaryIO, header: Header):
        _check_writable(header)
        self.header = header
        self._file = fileobj
        self._spans = iter(packet_spans(header))
        self._pending: list[np.ndarray] = []
        self._n_pending = 0
        self.frames_written = 0
        """Frames accepted so far."""
        self.bytes_written = 0
        """Bytes written to ``fileobj`` so far."""
        self._closed = False
        self._write(_encode_header(header))

    def _write(self, data: bytes) -> None:
        self._file.write(data)
        self.bytes_written += len(data)

    def _emit(self, count: int) -> None:
        block = self._pending[0] if len(self._pending) == 1 else np.concatenate(self._pending, axis=1)
        payload = pack_bits(block[:, :count], self.header.bits)
        self._write(PACKET.build(dict(signed=dict(value=dict(payload=payload)), packet_crc=None)))
        next(self._spans)
        rest = block[:, count:]
        self._pending = [rest] if rest.shape[1] else []
        self._n_pending = rest.shape[1]

    def write_frames(self, codes: np.ndarray) -> None:
        """Append frames; full packets are written at once.

        Args:
            codes: integer array [Q, f], any f >= 0, each index below ``2**bits[q]``.
        Raises:
            ValueError: wrong shape or dtype, an index out of range, more frames than
                ``header.n_frames`` in total, or the writer is closed.
        """
        if self._closed:
            raise ValueError("write_frames on a closed Writer")
        codes = _check_codes(codes, self.header, self.frames_written)
        count = codes.shape[1]
        if self.frames_written + count > self.header.n_frames:
            raise ValueError(
                f"{self.frames_written + count} frames written, header allows "
                f"{self.header.n_frames} (n_samples={self.header.n_samples})"
            )
        if count == 0:
            return
        self._pending.append(codes.astype(np.int64))  # a copy: callers may reuse their buffer
        self._n_pending += count
        self.frames_written += count
        fpp = self.header.frames_per_packet
        while self._n_pending >= fpp:
            self._emit(fpp)
        if self.frames_written == self.header.n_frames and self._n_pending:
            self._emit(self._n_pending)

    def close(self) -> None:
        """Finish the file (idempotent); the file object stays open.

        Raises:
            ValueError: fewer frames were written than ``header.n_frames``.
        """
        if self._closed:
            return
        if self.frames_written != self.header.n_frames:
            raise ValueError(
                f"{self.frames_written} frames written, header needs {self.header.n_frames} "
                f"(n_samples={self.header.n_samples}, hop_length={self.header.hop_length})"
            )
        self._closed = True

    def __enter__(self) -> "Writer":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self._closed = True


def pack(header: Header, codes: np.ndarray) -> bytes:
    """Serialise a header and all its codes into `.nsc` bytes (format 1.0).

    Args:
        header: the header; ``header.n_frames`` fixes the frame count.
        codes: integer array [Q, F] with ``Q = header.n_codebooks``,
            ``F = header.n_frames``, each index in ``0 .. 2**bits[q] - 1``.
    Returns:
        ``file_size(header)`` bytes.
    Raises:
        ValueError: codes of the wrong shape/dtype/range, or a header this version
            does not write (version other than 1.0, reserved payload kind).
    """
    codes = np.asarray(codes)
    if codes.ndim == 2 and codes.shape[1] != header.n_frames:
        raise ValueError(
            f"codes have {codes.shape[1]} frames, header needs {header.n_frames} "
            f"(n_samples={header.n_samples} at {header.input_sample_rate} Hz, "
            f"hop_length={header.hop_length} at {header.sample_rate} Hz)"
        )
    out = io.BytesIO()
    with Writer(out, header) as writer:
        writer.write_frames(codes)
    return out.getvalue()


# --- reading -------------------------------------------------------------------------


def _read_header(read: Callable[[int], bytes]) -> tuple[Header, int]:
    """Parse a header from ``read(n)`` calls; returns it and its size in bytes."""
    head = read(_PREAMBLE_SIZE)
    if head[:4] != MAGIC[: len(head[:4])]:
        raise FormatError(f"not an .nsc file: starts with {head[:4]!r}, expected {MAGIC!r}")
    if len(head) < _PREAMBLE_SIZE:
        raise FormatError(f"truncated header: file has {len(head)} bytes, the preamble alone needs 8")
    try:
        pre = PREAMBLE.parse(head)
    except ConstError:  # pragma: no cover - magic checked above
        raise FormatError(f"not an .nsc file: starts with {head[:4]!r}, expected {MAGIC!r}") from None
    if pre.version_major != FORMAT_MAJOR:
        raise FormatError(
            f"unsupported format version {pre.version_major}.{pre.version_minor}: this nsc "
            f"reads version {FORMAT_MAJOR}.x only (file from a newer nsc?)"
        )
    size = pre.header_size
    if size < _HEADER_FIXED_SIZE + 1:
        raise FormatError(f"bad header: header_size {size} is below the minimum {_HEADER_FIXED_SIZE + 1}")
    rest = read(size - _PREAMBLE_SIZE)
    if len(rest) < size - _PREAMBLE_SIZE:
        raise FormatError(
            f"truncated header: file has {_PREAMBLE_SIZE + len(rest)} of its {size} header bytes"
        )
    try:
        signed = HEADER.parse(head + rest).signed
    except ChecksumError:
        raise FormatError(f"header CRC mismatch: the {size}-byte header is damaged") from None
    try:
        body = HEADER_BODY.parse(signed.value.body)
    except ConstructError:
        raise FormatError(
            f"bad header: its codebook count does not fit in header_size {size}"
        ) from None
    if body.payload_kind not in PAYLOAD_KINDS:
        raise FormatError(
            f"unknown payload kind {body.payload_kind}: this nsc reads kind "
            f"{PAYLOAD_KIND_VQ} ({PAYLOAD_KINDS[PAYLOAD_KIND_VQ]}) only"
        )
    try:
        header = Header(
            codec_id=body.codec_id,
            fingerprint=body.fingerprint,
            sample_rate=body.sample_rate,
            input_sample_rate=body.input_sample_rate,
            input_channels=body.input_channels,
            n_samples=body.n_samples,
            hop_length=body.hop_length,
            bits=tuple(body.bits),
            bitrate_bps=body.bitrate_bps,
            frames_per_packet=body.frames_per_packet,
            payload_kind=body.payload_kind,
            version_major=pre.version_major,
            version_minor=pre.version_minor,
        )
    except ValueError as e:
        raise FormatError(f"bad header: {e}") from None
    return header, size


def read_header(fileobj: BinaryIO) -> Header:
    """Read and check the header, leaving ``fileobj`` at the first packet.

    Accepts any minor version of major 1 (fields a newer minor adds are skipped).

    Raises:
        FormatError: not an .nsc file (bad magic), unsupported major version,
            truncated header, header CRC mismatch, unknown payload kind, or a field
            out of range.
    """
    return _read_header(fileobj.read)[0]


def _read_packet(read: Callable[[int], bytes], span: PacketSpan, header: Header) -> np.ndarray:
    """Read one packet strictly; int64 [Q, span.n_frames] or FormatError naming the packet."""
    where = span.describe()
    head = read(2)
    if not head:
        raise FormatError(
            f"missing packets: file ends before {where}; {header.n_packets} packets expected"
        )
    if len(head) < 2:
        raise FormatError(f"truncated packet: {where} has 1 of {span.payload_bytes + 6} bytes")
    length = Int16ub.parse(head)
    if length != span.payload_bytes:
        raise FormatError(
            f"wrong packet length: {where} declares {length} payload bytes, its "
            f"{span.n_frames} frames need {span.payload_bytes}"
        )
    rest = read(length + _CRC_SIZE)
    if len(rest) < length + _CRC_SIZE:
        raise FormatError(
            f"truncated packet: {where} has {2 + len(rest)} of {length + 6} bytes"
        )
    try:
        packet = PACKET.parse(head + rest)
    except ChecksumError:
        raise FormatError(f"packet CRC mismatch: {where} is damaged") from None
    return unpack_bits(packet.signed.value.payload, header.bits, span.n_frames)


def iter_packets(fileobj: BinaryIO, header: Header) -> Iterator[tuple[int, np.ndarray]]:
    """Strict streaming reader of the packets after :func:`read_header`.

    Yields:
        ``(packet_index, codes)``, codes int64 [Q, f] for the packet's f frames, in order.
    Raises:
        FormatError: truncated packet, packet CRC mismatch, wrong packet length for
            its frame count, missing packets, or trailing bytes after the last packet;
            the message names the packet and its frame and time range.
    """
    for span in packet_spans(header):
        yield span.index, _read_packet(fileobj.read, span, header)
    extra = fileobj.read(1)
    if extra:
        count = 1 + len(fileobj.read())
        raise FormatError(f"trailing garbage: {count} bytes after the last packet")


def unpack(data: bytes) -> tuple[Header, np.ndarray]:
    """Parse `.nsc` bytes strictly.

    Args:
        data: the whole file (bytes, bytearray or memoryview).
    Returns:
        ``(header, codes)``; codes int64 [Q, F], ``F = header.n_frames``.
    Raises:
        FormatError: any damage (see :func:`read_header` and :func:`iter_packets`);
            one line naming what is wrong and where.
    """
    stream = io.BytesIO(data)
    header = read_header(stream)
    codes = np.empty((header.n_codebooks, header.n_frames), dtype=np.int64)
    fpp = header.frames_per_packet
    for index, chunk in iter_packets(stream, header):
        codes[:, index * fpp : index * fpp + chunk.shape[1]] = chunk
    return header, codes


# --- damaged files -------------------------------------------------------------------


@dataclass(frozen=True)
class PacketDamage:
    """A packet :func:`salvage` could not decode.

    Attributes:
        index: packet number (``header.n_packets`` for trailing bytes after the last one).
        first_frame, n_frames: frames lost (``n_frames = 0`` for trailing bytes).
        start_s, end_s: time range lost, seconds.
        reason: one-line description, the same text the strict reader raises.
    """

    index: int
    first_frame: int
    n_frames: int
    start_s: float
    end_s: float
    reason: str


@dataclass(frozen=True)
class PacketStatus:
    """Integrity of one packet, for :func:`inspect`.

    Attributes:
        index, first_frame, n_frames, start_s, end_s: as :class:`PacketSpan`.
        offset: byte offset of its length field in the file.
        size: bytes it should occupy (payload + 6).
        error: ``None`` if intact, else the one-line reason.
    """

    index: int
    first_frame: int
    n_frames: int
    start_s: float
    end_s: float
    offset: int
    size: int
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when the packet is present and passes its length and CRC checks."""
        return self.error is None


@dataclass(frozen=True)
class Report:
    """What :func:`inspect` found; sizes in bytes, rates in kbit/s of input duration.

    Attributes:
        header: the parsed header.
        header_bytes: size of the header as stored (``header_size`` field).
        packets: status of every expected packet, in order.
        payload_bytes: payload bytes the header calls for (:func:`payload_size`).
        framing_bytes: header + 6 bytes per packet.
        trailing_bytes: bytes after the last packet (0 in a sound file).
        file_bytes: ``len(data)``.
        payload_kbps: ``payload_bytes * 8 / duration_s / 1000`` (nan for empty input).
        file_kbps: ``file_bytes * 8 / duration_s / 1000`` (nan for empty input).
        overhead: ``(file_bytes - payload_bytes) / payload_bytes``.
    """

    header: Header
    header_bytes: int
    packets: tuple[PacketStatus, ...]
    payload_bytes: int
    framing_bytes: int
    trailing_bytes: int
    file_bytes: int
    payload_kbps: float
    file_kbps: float
    overhead: float

    @property
    def damaged(self) -> list[PacketStatus]:
        """Packets that failed a check."""
        return [p for p in self.packets if not p.ok]

    @property
    def ok(self) -> bool:
        """True when every packet is intact and nothing trails the last one."""
        return not self.damaged and self.trailing_bytes == 0


_Checked = tuple[PacketSpan, int, "np.ndarray | None", "str | None"]  # span, offset, codes, error


def _scan(data: bytes) -> tuple[Header, int, list[_Checked], int]:
    """Strict header, then every packet at its derived offset; also returns header and trailing sizes."""
    stream = io.BytesIO(data)
    header, size = _read_header(stream.read)
    results = []
    offset = size
    for span in packet_spans(header):
        piece = io.BytesIO(data[offset : offset + span.payload_bytes + PACKET_FRAMING_BYTES])
        try:
            results.append((span, offset, _read_packet(piece.read, span, header), None))
        except FormatError as e:
            results.append((span, offset, None, str(e)))
        offset += span.payload_bytes + PACKET_FRAMING_BYTES
    trailing = max(0, len(data) - offset)
    return header, size, results, trailing


def salvage(data: bytes) -> tuple[Header, np.ndarray, list[PacketDamage]]:
    """Decode every intact packet of a possibly damaged file.

    Packet positions follow from the header alone, so damage stays confined to
    the packets it hits; a truncated file keeps its complete leading packets.

    Returns:
        ``(header, codes, damage)``: codes int64 [Q, F] with every frame of a damaged
        packet set to :data:`LOST` (-1), so ``codes[0] != LOST`` is the bool [F] mask of
        valid frames; ``damage`` lists the damaged packets in order, plus one entry
        with ``n_frames=0`` if bytes trail the last packet.
    Raises:
        FormatError: the header itself is unusable (bad magic, unsupported version,
            truncated, CRC mismatch, unknown payload kind).
    """
    header, _, results, trailing = _scan(data)
    codes = np.full((header.n_codebooks, header.n_frames), LOST, dtype=np.int64)
    damage = []
    for span, _, chunk, error in results:
        if chunk is not None:
            codes[:, span.first_frame : span.first_frame + span.n_frames] = chunk
        else:
            damage.append(
                PacketDamage(span.index, span.first_frame, span.n_frames, span.start_s, span.end_s, error)
            )
    if trailing:
        end = results[-1][0].end_s
        damage.append(
            PacketDamage(
                header.n_packets, header.n_frames, 0, end, end,
                f"trailing garbage: {trailing} bytes after the last packet",
            )
        )
    return header, codes, damage


def inspect(data: bytes) -> Report:
    """Check a file packet by packet without stopping at the first damage (for ``nsc info``).

    Args:
        data: the whole file.
    Returns:
        A :class:`Report` with the header, per-packet integrity, sizes and bitrates.
    Raises:
        FormatError: the header itself is unusable (see :func:`salvage`).
    """
    header, size, results, trailing = _scan(data)
    packets = tuple(
        PacketStatus(
            span.index, span.first_frame, span.n_frames, span.start_s, span.end_s,
            offset, span.payload_bytes + PACKET_FRAMING_BYTES, error,
        )
        for span, offset, _, error in results
    )
    payload = payload_size(header)
    return Report(
        header=header,
        header_bytes=size,
        packets=packets,
        payload_bytes=payload,
        framing_bytes=size + PACKET_FRAMING_BYTES * header.n_packets,
        trailing_bytes=trailing,
        file_bytes=len(data),
        payload_kbps=payload_bitrate_bps(header) / 1000,
        file_kbps=file_bitrate_bps(header, len(data)) / 1000,
        overhead=overhead(header, len(data)),
    )
