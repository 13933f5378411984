"""Reference codecs run through their own command-line tools: Codec2 and Opus.

- **Codec2** (Debian ``codec2``): ``c2enc MODE in.raw out.c2`` and
  ``c2dec MODE out.c2 out.raw``, raw 8 kHz signed 16-bit little-endian mono.
  Given a ``.c2`` name, c2enc writes a 7-byte header (magic ``C0 DE C2``,
  version major, version minor, mode, flags) and then whole frames, each padded
  to a byte (700C's 28-bit frames take 4 bytes). Payload bits = file bits minus
  the header; the nominal rate is the mode's bits per frame over its frame time.
  A trailing partial frame is not coded, so the output can be a little shorter
  than the input.
- **Opus** (Debian ``opus-tools``, libopus): ``opusenc --speech --hard-cbr
  --bitrate K --framesize 20`` on raw 16-bit input at the comparison rate
  (8 kHz narrowband, 16 kHz wideband), with the encoder's maximum audio
  bandwidth set to the comparison band (``--set-ctl-int 4004=1101`` for
  narrowband: left alone, libopus picks wideband SILK at 12 kbit/s even for
  8 kHz input and spends bits on an empty band; at 16 kHz it may still
  choose narrowband at low rates, as it does at 8 kbit/s), decoded with ``opusdec --rate RATE
  --float`` (no dither). File bits are the whole Ogg file (headers, tags and
  page overhead included); payload bits are the Opus audio packets alone,
  counted by walking the Ogg pages (the OpusHead and OpusTags packets excluded).

Encode and decode times are wall-clock times of the tool processes (process
start included, which favours nothing: it is a few milliseconds).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from ..errors import NscError
from .metrics import Bitrate

__all__ = [
    "ToolMissingError",
    "RoundTrip",
    "CODEC2_MODES",
    "CODEC2_HEADER_BYTES",
    "CODEC2_DEFAULT_MODES",
    "OPUS_DEFAULT_KBPS",
    "check_tools",
    "to_pcm16",
    "codec2_roundtrip",
    "opus_roundtrip",
    "ogg_packet_sizes",
]

#: Codec2 mode -> (bits per frame, samples per frame at 8 kHz), from codec2.h / c2enc.
CODEC2_MODES: dict[str, tuple[int, int]] = {
    "3200": (64, 160),
    "2400": (48, 160),
    "1600": (64, 320),
    "1400": (56, 320),
    "1300": (52, 320),
    "1200": (48, 320),
    "700C": (28, 320),
}
CODEC2_HEADER_BYTES = 7
CODEC2_MAGIC = b"\xc0\xde\xc2"
CODEC2_DEFAULT_MODES = ("700C", "1200", "2400", "3200")
OPUS_DEFAULT_KBPS = (6.0, 8.0, 12.0)

_TOOLS = {
    "codec2": (("c2enc", "c2dec"), "apt-get install codec2"),
    "opus": (("opusenc", "opusdec"), "apt-get install opus-tools"),
}


# libopus ctl OPUS_SET_MAX_BANDWIDTH_REQUEST and its OPUS_BANDWIDTH_* values (opus_defines.h).
_OPUS_SET_MAX_BANDWIDTH = 4004
_OPUS_BANDWIDTH = {8000: 1101, 12000: 1102, 16000: 1103, 24000: 1104, 48000: 1105}


class ToolMissingError(NscError):
    """A baseline's command-line tools are not installed."""


@dataclass
class RoundTrip:
    """One file through one codec setting.

    Attributes:
        decoded: float32 [T'] decoded mono audio at the codec's sample rate
            (not yet aligned; T' may differ from the input length).
        bitrate: exact bits of what was coded.
        encode_s: wall-clock encode time (s).
        decode_s: wall-clock decode time (s).
        codes: int [Q, F] indices for VQ codecs, else None.
    """

    decoded: np.ndarray
    bitrate: Bitrate
    encode_s: float
    decode_s: float
    codes: np.ndarray | None = None


def check_tools(family: str) -> None:
    """Make sure a baseline's tools are on PATH.

    Raises:
        ToolMissingError: one line naming the missing tools and the install command.
        ValueError: unknown family.
    """
    tools, install = _TOOLS[family]
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        raise ToolMissingError(
            f"{family} baseline needs {' and '.join(missing)}, not found on PATH; install with `{install}`"
        )


def to_pcm16(audio: np.ndarray) -> np.ndarray:
    """float [T] in [-1, 1] -> int16 [T] little-endian (rounded, clipped)."""
    x = np.clip(np.round(np.asarray(audio, dtype=np.float64) * 32767.0), -32768, 32767)
    return x.astype("<i2")


def _run(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip().splitlines()
        raise NscError(f"{cmd[0]} failed (exit {proc.returncode}): {err[-1] if err else 'no message'}")
    return elapsed


def codec2_roundtrip(audio: np.ndarray, mode: str, workdir: str | Path | None = None) -> RoundTrip:
    """Encode and decode with c2enc/c2dec.

    Args:
        audio: float [T] mono in [-1, 1] at 8000 Hz.
        mode: a key of :data:`CODEC2_MODES`, e.g. ``"1200"`` or ``"700C"``.
        workdir: folder for the temporary files (default: a fresh temp dir).

    Returns:
        :class:`RoundTrip` with decoded float32 audio at 8000 Hz.

    Raises:
        ToolMissingError: codec2 is not installed.
        NscError: the tools failed or wrote an unexpected header.
    """
    if mode not in CODEC2_MODES:
        raise NscError(f"unknown Codec2 mode {mode!r}; choose from {', '.join(CODEC2_MODES)}")
    check_tools("codec2")
    bits_per_frame, samples_per_frame = CODEC2_MODES[mode]
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        raw_in, coded, raw_out = (Path(tmp) / n for n in ("in.raw", "out.c2", "out.raw"))
        to_pcm16(audio).tofile(raw_in)
        enc_s = _run(["c2enc", mode, str(raw_in), str(coded)])
        dec_s = _run(["c2dec", mode, str(coded), str(raw_out)])
        data = coded.read_bytes()
        decoded = np.fromfile(raw_out, dtype="<i2").astype(np.float32) / 32768.0
    if data[:3] != CODEC2_MAGIC:
        raise NscError(f"c2enc wrote no Codec2 header (got {data[:3].hex()}); is this codec2 version supported?")
    bitrate = Bitrate(
        payload_bits=(len(data) - CODEC2_HEADER_BYTES) * 8,
        file_bits=len(data) * 8,
        duration_s=len(audio) / 8000.0,
        nominal_kbps=bits_per_frame / (samples_per_frame / 8000.0) / 1000.0,
    )
    return RoundTrip(decoded, bitrate, enc_s, dec_s)


def ogg_packet_sizes(data: bytes) -> list[int]:
    """Sizes (bytes) of the packets of a single-stream Ogg file, in order.

    Walks the pages (RFC 3533: ``OggS``, 27-byte header, segment table) and joins
    lacing values into packets, packets spanning pages included.

    Raises:
        NscError: the data is not a well-formed Ogg stream.
    """
    sizes: list[int] = []
    pos, current, open_packet = 0, 0, False
    while pos < len(data):
        if data[pos : pos + 4] != b"OggS" or pos + 27 > len(data):
            raise NscError(f"not an Ogg page at byte {pos}")
        n_segments = data[pos + 26]
        table = data[pos + 27 : pos + 27 + n_segments]
        if len(table) != n_segments:
            raise NscError("truncated Ogg page")
        for lacing in table:
            current += lacing
            open_packet = True
            if lacing < 255:
                sizes.append(current)
                current, open_packet = 0, False
        pos += 27 + n_segments + sum(table)
    if pos != len(data):
        raise NscError("truncated Ogg page body")
    if open_packet:
        sizes.append(current)
    return sizes


def opus_roundtrip(
    audio: np.ndarray, sample_rate: int, bitrate_kbps: float, workdir: str | Path | None = None
) -> RoundTrip:
    """Encode and decode with opusenc/opusdec (speech tuning, hard CBR, 20 ms frames).

    Args:
        audio: float [T] mono in [-1, 1] at ``sample_rate`` Hz.
        sample_rate: comparison rate: 8000 (narrowband) or 16000 (wideband);
            opusenc codes it natively and opusdec decodes at it (``--rate``).
        bitrate_kbps: target rate (kbit/s), e.g. 6, 8, 12.
        workdir: folder for the temporary files (default: a fresh temp dir).

    Returns:
        :class:`RoundTrip` with decoded float32 audio at ``sample_rate``.

    Raises:
        ToolMissingError: opus-tools is not installed.
        NscError: the tools failed.
    """
    if sample_rate not in _OPUS_BANDWIDTH:
        raise NscError(f"Opus codes 8, 12, 16, 24 or 48 kHz audio, not {sample_rate} Hz")
    check_tools("opus")
    kbps = f"{bitrate_kbps:g}"
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        raw_in, coded, wav_out = (Path(tmp) / n for n in ("in.raw", "out.opus", "out.wav"))
        to_pcm16(audio).tofile(raw_in)
        enc_s = _run(
            ["opusenc", "--quiet", "--speech", "--hard-cbr", "--bitrate", kbps, "--framesize", "20",
             "--set-ctl-int", f"{_OPUS_SET_MAX_BANDWIDTH}={_OPUS_BANDWIDTH[sample_rate]}",
             "--raw", "--raw-rate", str(sample_rate), "--raw-chan", "1", "--raw-bits", "16",
             str(raw_in), str(coded)]
        )  # fmt: skip
        dec_s = _run(["opusdec", "--quiet", "--rate", str(sample_rate), "--float", str(coded), str(wav_out)])
        data = coded.read_bytes()
        decoded, rate = sf.read(wav_out, dtype="float32", always_2d=True)
    if rate != sample_rate:
        raise NscError(f"opusdec wrote {rate} Hz, asked for {sample_rate} Hz")
    packets = ogg_packet_sizes(data)
    bitrate = Bitrate(
        payload_bits=8 * sum(packets[2:]),  # packets 0 and 1 are OpusHead and OpusTags
        file_bits=8 * len(data),
        duration_s=len(audio) / float(sample_rate),
        nominal_kbps=float(bitrate_kbps),
    )
    return RoundTrip(decoded.mean(axis=1), bitrate, enc_s, dec_s)
