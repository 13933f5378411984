"""The codec registry: one table of every codec nsc ships, keyed by name, with stable wire ids.

The wire id is written into every `.nsc` header and never reused or derived from
ordering (style habit 2). ``nsc models``, the README codec table and the man
pages are all generated from :data:`CODECS`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from .errors import BitrateError, UnknownCodecError

__all__ = [
    "CodecSpec",
    "CODECS",
    "DEFAULT_CODEC",
    "register",
    "get_spec",
    "spec_for_wire_id",
    "parse_bitrate",
    "resolve",
    "headline_n_codebooks",
]


@dataclass(frozen=True)
class CodecSpec:
    """A registry entry: the fixed facts about one codec.

    Attributes:
        name: stable user-facing id, e.g. ``"mscacodec-nb"``.
        wire_id: stable numeric id stored in `.nsc` headers (uint16, never reused).
        family: model family (paper) it implements.
        sample_rate: codec sample rate in Hz.
        hop_length: samples per frame at ``sample_rate``.
        codebook_sizes: entries of each codebook in transmission order (powers of two).
        n_codebooks_options: the codebook counts a user may pick; each gives one bitrate.
        default_n_codebooks: the count used when no bitrate is given.
        builder: ``"module:function"`` building the model from a config dict.
        weights: file name of the packaged weights inside ``nsc/weights/``.
        summary: one line for tables.
        paper: the paper it implements.
        postfilter: decoding applies :func:`nsc.postfilter.default_postfilter` by default
            (``nsc decode --no-postfilter`` turns it off); set where it measured better.
        beam_width: partial codes the encoder's quantizer search keeps per frame by
            default (M-best search, :func:`nsc.quantizers.rvq.beam_search`; 1 is
            greedy; ``nsc encode --beam-width`` overrides); set where it measured better.
    """

    name: str
    wire_id: int
    family: str
    sample_rate: int
    hop_length: int
    codebook_sizes: tuple[int, ...]
    n_codebooks_options: tuple[int, ...]
    default_n_codebooks: int
    builder: str
    weights: str
    summary: str
    paper: str
    payload_kind: int = 0
    postfilter: bool = False
    beam_width: int = 1
    aliases: tuple[str, ...] = field(default_factory=tuple)

    @property
    def frame_rate(self) -> float:
        """Frames per second (Hz)."""
        return self.sample_rate / self.hop_length

    def bitrate_kbps(self, n_codebooks: int) -> float:
        """Payload bitrate (kbit/s) with the first ``n_codebooks`` codebooks."""
        bits = sum(int(math.log2(s)) for s in self.codebook_sizes[:n_codebooks])
        return self.frame_rate * bits / 1000.0

    @property
    def bitrates_kbps(self) -> tuple[float, ...]:
        """Every bitrate the codec offers, ascending (kbit/s)."""
        return tuple(self.bitrate_kbps(n) for n in self.n_codebooks_options)

    def n_codebooks_for(self, bitrate_kbps: float) -> int:
        """The codebook count that gives ``bitrate_kbps`` exactly (to 1 bit/s).

        Raises:
            BitrateError: the codec offers no such bitrate; the message lists those it does.
        """
        for n in self.n_codebooks_options:
            if abs(self.bitrate_kbps(n) - bitrate_kbps) < 1e-3:
                return n
        offered = ", ".join(format_kbps(b) for b in self.bitrates_kbps)
        raise BitrateError(
            f"{self.name} does not offer {format_kbps(bitrate_kbps)}; it offers {offered}"
        )


def format_kbps(kbps: float) -> str:
    """``1.2`` -> ``"1.2k"``, ``0.95`` -> ``"0.95k"``."""
    return f"{kbps:g}k"


_SPECS = [
    CodecSpec(
        name="mscacodec-nb",
        wire_id=1,
        family="MSCACodec",
        sample_rate=8000,
        hop_length=160,
        codebook_sizes=(256,) * 6,
        n_codebooks_options=(1, 2, 3, 4, 5, 6),
        default_n_codebooks=6,
        builder="nsc.models.mscacodec:build",
        weights="mscacodec-nb.safetensors",
        summary="narrowband 8 kHz, causal MSR-CAM + TCGRU, RVQ 6 x 256",
        paper="Yu et al., MSCACodec: A Low-rate Neural Speech Codec With Multi-scale Residual Channel Attention",
        postfilter=True,
        beam_width=4,
    ),
    CodecSpec(
        name="mscacodec-wb",
        wire_id=2,
        family="MSCACodec",
        sample_rate=16000,
        hop_length=320,
        codebook_sizes=(1024,) * 6,
        n_codebooks_options=(1, 2, 3, 4, 5, 6),
        default_n_codebooks=6,
        builder="nsc.models.mscacodec:build",
        weights="mscacodec-wb.safetensors",
        summary="wideband 16 kHz, causal MSR-CAM + TCGRU, RVQ 6 x 1024",
        paper="Yu et al., MSCACodec, sec. 4.4 (bandwidth expansion)",
        postfilter=True,
    ),
    CodecSpec(
        name="hificodec-16k",
        wire_id=3,
        family="HiFi-Codec",
        sample_rate=16000,
        hop_length=320,
        codebook_sizes=(1024,) * 4,
        n_codebooks_options=(2, 4),
        default_n_codebooks=4,
        builder="nsc.models.hificodec:build",
        weights="hificodec-16k.safetensors",
        summary="16 kHz, GRVQ 2 groups x 2 stages x 1024",
        paper="Yang et al., HiFi-Codec: Group-residual Vector Quantization for High Fidelity Audio Codec (2023)",
    ),
    CodecSpec(
        name="srcodec-16k",
        wire_id=4,
        family="SRCodec",
        sample_rate=16000,
        hop_length=320,
        codebook_sizes=(512, 1024),
        n_codebooks_options=(2,),
        default_n_codebooks=2,
        builder="nsc.models.srcodec:build",
        weights="srcodec-16k.safetensors",
        summary="16 kHz, split-residual VQ (512 + 1024) with dual attention",
        paper="Zheng et al., SRCodec: Split-Residual Vector Quantization for Neural Speech Codec (ICASSP 2024)",
    ),
]

#: Every shipped codec by name. Wire ids 5 (rate-aware LSC) and 6 (APCodec) are reserved.
CODECS: dict[str, CodecSpec] = {s.name: s for s in _SPECS}

#: The codec used when neither ``-c`` nor a bitrate picks one.
DEFAULT_CODEC = "mscacodec-nb"

#: Which codec a bare bitrate selects: each codec's headline rates first (kbit/s -> name),
#: then the first codec in this order that offers the rate.
_HEADLINE_BITRATES = {
    1.2: "mscacodec-nb",
    2.4: "mscacodec-nb",
    1.5: "mscacodec-wb",
    3.0: "mscacodec-wb",
    2.0: "hificodec-16k",
    0.95: "srcodec-16k",
}
_DEFAULT_FOR_BITRATE = ("mscacodec-nb", "mscacodec-wb", "hificodec-16k", "srcodec-16k")


def register(spec: CodecSpec) -> None:
    """Add a codec (tests use this for tiny random-init codecs).

    Raises:
        ValueError: the name or wire id is already taken by another spec.
    """
    for other in CODECS.values():
        if other.name != spec.name and other.wire_id == spec.wire_id:
            raise ValueError(f"wire id {spec.wire_id} already used by {other.name}")
    CODECS[spec.name] = spec


def get_spec(name: str) -> CodecSpec:
    """Look a codec up by name.

    Raises:
        UnknownCodecError: no such codec; the message lists the known names.
    """
    if name in CODECS:
        return CODECS[name]
    for s in CODECS.values():
        if name in s.aliases:
            return s
    raise UnknownCodecError(f"unknown codec {name!r}; known codecs: {', '.join(CODECS)}")


def spec_for_wire_id(wire_id: int) -> CodecSpec:
    """Look a codec up by the numeric id stored in `.nsc` headers.

    Raises:
        UnknownCodecError: no codec has that id (file from a newer nsc?).
    """
    for s in CODECS.values():
        if s.wire_id == wire_id:
            return s
    raise UnknownCodecError(
        f"codec id {wire_id} is not known to this nsc (file made by a newer version?)"
    )


_BITRATE_RE = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*(k|kbps|kbit/s|kb/s|bps|b/s)?\s*$", re.IGNORECASE)


def parse_bitrate(text: str) -> float:
    """Parse ``"1.2k"``, ``"1200"``, ``"1.2kbps"``, ``"950bps"`` into kbit/s.

    A bare number of 100 or more is read as bit/s, a smaller one as kbit/s.

    Raises:
        BitrateError: the text is not a bitrate.
    """
    m = _BITRATE_RE.match(text)
    if not m:
        raise BitrateError(f"cannot read bitrate {text!r}; write it like 1.2k, 1200 or 2.4kbps")
    value = float(m.group(1))
    unit = (m.group(2) or "").lower()
    if unit in ("bps", "b/s"):
        kbps = value / 1000.0
    elif unit:
        kbps = value
    else:
        kbps = value / 1000.0 if value >= 100 else value
    if kbps <= 0:
        raise BitrateError(f"bitrate must be positive, got {text!r}")
    return kbps


def resolve(codec: str | None, bitrate_kbps: float | None) -> tuple[CodecSpec, int]:
    """Pick the codec and codebook count for a request.

    Without ``codec``, the bitrate picks the default codec that offers it; with
    neither, :data:`DEFAULT_CODEC` at its default bitrate.

    Raises:
        UnknownCodecError: ``codec`` is not registered.
        BitrateError: the bitrate is not offered (by ``codec``, or by any codec).
    """
    if codec is not None:
        spec = get_spec(codec)
        if bitrate_kbps is None:
            return spec, spec.default_n_codebooks
        return spec, spec.n_codebooks_for(bitrate_kbps)
    if bitrate_kbps is None:
        spec = CODECS[DEFAULT_CODEC]
        return spec, spec.default_n_codebooks
    for kbps, name in _HEADLINE_BITRATES.items():
        if abs(kbps - bitrate_kbps) < 1e-3 and name in CODECS:
            spec = CODECS[name]
            return spec, spec.n_codebooks_for(bitrate_kbps)
    for name in _DEFAULT_FOR_BITRATE:
        spec = CODECS[name]
        try:
            return spec, spec.n_codebooks_for(bitrate_kbps)
        except BitrateError:
            continue
    offered = sorted({(b, s.name) for s in CODECS.values() for b in s.bitrates_kbps})
    listing = ", ".join(f"{format_kbps(b)} ({n})" for b, n in offered)
    raise BitrateError(f"no codec offers {format_kbps(bitrate_kbps)}; available: {listing}")


def headline_n_codebooks(spec: CodecSpec) -> list[int]:
    """Codebook counts of the codec's headline bitrates (e.g. [3, 6] for mscacodec-nb), ascending.

    A codec with no headline bitrate gets its default count.
    """
    counts = {spec.n_codebooks_for(k) for k, name in _HEADLINE_BITRATES.items() if name == spec.name}
    return sorted(counts or {spec.default_n_codebooks})
