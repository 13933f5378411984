"""``evaluate()``: run nsc codecs and the baselines over speech files and score them.

For every reference file and every system (one codec at one bitrate), the
reference is loaded as mono, resampled (soxr, VHQ) to the system's sample rate,
encoded and decoded, the output aligned to the reference
(:mod:`nsc.eval.align`) and scored at that rate (:mod:`nsc.eval.metrics`).
PESQ is narrowband for 8 kHz systems and wideband for 16 kHz ones, so scores
are only comparable between systems of the same rate; Opus is run at every
rate that the evaluated nsc codecs use (8 kHz when there are none).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from ..errors import AudioError, BitrateError, NscError, WeightsError
from . import baselines as bl
from .align import align
from .metrics import (
    Bitrate,
    CodebookUsage,
    codebook_usage,
    log_spectral_distance,
    pesq_mode,
    pesq_score,
    stoi_score,
    visqol_available,
    visqol_mapper,
    visqol_score,
)

__all__ = [
    "AUDIO_SUFFIXES",
    "System",
    "FileScore",
    "SystemSummary",
    "EvalResult",
    "find_audio",
    "load_reference",
    "parse_baselines",
    "nsc_roundtrip",
    "plan_systems",
    "evaluate",
]

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".aiff", ".aif", ".mp3")


@dataclass(frozen=True)
class System:
    """One codec at one setting, as evaluated.

    Attributes:
        name: unique label, e.g. ``"mscacodec-nb 2.4k"``, ``"codec2 1200"``, ``"opus-nb 8k"``.
        codec: the line it belongs to in plots: an nsc codec name, ``"codec2"``,
            ``"opus-nb"`` (8 kHz) or ``"opus-wb"`` (16 kHz).
        kind: ``"nsc"`` or ``"baseline"``.
        sample_rate: rate it codes and is scored at (Hz).
        nominal_kbps: the rate it is set to (kbit/s).
        codebook_sizes: entries per codebook for VQ codecs (for usage statistics), else empty.
        run: float [T] mono at ``sample_rate`` -> :class:`~nsc.eval.baselines.RoundTrip`.
    """

    name: str
    codec: str
    kind: str
    sample_rate: int
    nominal_kbps: float
    run: Callable[[np.ndarray], bl.RoundTrip] = field(repr=False, compare=False)
    codebook_sizes: tuple[int, ...] = ()


@dataclass
class FileScore:
    """Scores of one file through one system (one CSV row).

    Rates in kbit/s, durations and times in s, ``delay_samples`` at ``sample_rate``;
    metrics are NaN when undefined (e.g. ViSQOL not installed).
    """

    file: str
    system: str
    codec: str
    kind: str
    sample_rate: int
    nominal_kbps: float
    payload_kbps: float
    file_kbps: float
    payload_bits: int
    file_bits: int
    duration_s: float
    delay_samples: int
    waveform_aligned: bool
    pesq_mode: str
    pesq: float
    stoi: float
    visqol: float
    lsd_db: float
    encode_s: float
    decode_s: float


@dataclass
class SystemSummary:
    """One system over all files.

    Bitrates are total bits over total duration (exact, not a mean of ratios);
    metrics are means over the files where they are defined; speeds are audio
    duration over processing time (x real time, one process).
    """

    system: str
    codec: str
    kind: str
    sample_rate: int
    nominal_kbps: float
    payload_kbps: float
    file_kbps: float
    n_files: int
    n_failed: int
    duration_s: float
    pesq_mode: str
    pesq: float
    stoi: float
    visqol: float
    lsd_db: float
    encode_xrt: float
    decode_xrt: float


@dataclass
class EvalResult:
    """Everything ``evaluate`` measured.

    Attributes:
        files: the reference files, in evaluation order.
        rows: one :class:`FileScore` per (file, system) that ran.
        summaries: one :class:`SystemSummary` per system, in plan order.
        codebook_usage: for VQ systems, per-codebook usage over all files.
        notes: one-line notices (skipped codecs, missing tools, failures).
        visqol: ViSQOL mapper used (``"lattice"``/``"polynomial"``), or None when not run.
        outputs: files written, by kind (``"csv"``, ``"markdown"``, ``"json"``, plots).
        example: for the spectrogram plot: file name, reference and each
            system's aligned output, float32 [T] per rate/system.
    """

    files: list[Path]
    rows: list[FileScore] = field(default_factory=list)
    summaries: list[SystemSummary] = field(default_factory=list)
    codebook_usage: dict[str, list[CodebookUsage]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    visqol: str | None = None
    outputs: dict[str, Path] = field(default_factory=dict)
    example: dict = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict:
        """A JSON-ready dict (NaN becomes None)."""

        def clean(v):
            if isinstance(v, float) and not math.isfinite(v):
                return None
            if isinstance(v, dict):
                return {k: clean(x) for k, x in v.items()}
            if isinstance(v, (list, tuple)):
                return [clean(x) for x in v]
            if isinstance(v, Path):
                return str(v)
            return v

        return clean(
            {
                "files": [str(f) for f in self.files],
                "visqol": self.visqol,
                "summary": [asdict(s) for s in self.summaries],
                "codebook_usage": {k: [asdict(u) for u in v] for k, v in self.codebook_usage.items()},
                "notes": list(self.notes),
                "rows": [asdict(r) for r in self.rows],
            }
        )


# ----------------------------------------------------------------------------- inputs


def _manifest_files(manifest: Path, split: str | None) -> list[Path]:
    import csv

    with open(manifest, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or "path" not in rows[0]:
        raise AudioError(f"{manifest}: not a speech manifest (needs a 'path' column)")
    if split is not None:
        rows = [r for r in rows if r.get("split") == split]
        if not rows:
            raise AudioError(f"{manifest}: no rows with split {split!r}")
    return sorted(manifest.parent / r["path"] for r in rows)


def find_audio(paths: Iterable[str | Path], split: str | None = None) -> list[Path]:
    """Expand files, folders (searched recursively) and manifests into a sorted list of audio files.

    A ``.csv`` path is read as a speech manifest (the format of
    ``../shared/data/speech/manifest.csv``: a ``path`` column relative to the
    manifest, optionally a ``split`` column); ``split`` keeps only its rows of
    that split (e.g. ``"valid"``).

    Raises:
        AudioError: a path does not exist, a manifest is malformed, or nothing playable was found.
    """
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_file() and p.suffix.lower() == ".csv":
            found.extend(_manifest_files(p, split))
        elif p.is_dir():
            found.extend(sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in AUDIO_SUFFIXES))
        elif p.is_file():
            found.append(p)
        else:
            raise AudioError(f"no such file or folder: {p}")
    if not found:
        raise AudioError("no audio files found (looked for " + ", ".join(AUDIO_SUFFIXES) + ")")
    seen: set[Path] = set()
    return [f for f in found if not (f.resolve() in seen or seen.add(f.resolve()))]


def load_reference(path: str | Path, sample_rate: int) -> np.ndarray:
    """Read a file as mono float64 [T] at ``sample_rate`` (channels averaged, soxr VHQ resampling).

    Raises:
        AudioError: unreadable, empty, or holding NaN/inf.
    """
    try:
        audio, rate = sf.read(str(path), dtype="float64", always_2d=True)
    except Exception as exc:
        raise AudioError(f"{path}: cannot read audio ({exc})") from None
    if audio.size == 0:
        raise AudioError(f"{path}: no samples")
    if not np.all(np.isfinite(audio)):
        raise AudioError(f"{path}: holds NaN or inf samples")
    mono = audio.mean(axis=1)
    if rate != sample_rate:
        import soxr

        mono = soxr.resample(mono, rate, sample_rate, quality="VHQ")
    return np.clip(mono, -1.0, 1.0)


# ----------------------------------------------------------------------------- systems


def parse_baselines(text: str | Sequence[str] | None) -> list[tuple[str, str | None]]:
    """Parse ``"codec2,opus"``, ``"codec2:1200,opus:8"`` or ``"none"``.

    Returns:
        (family, setting) pairs; setting None means the family's default set
        (Codec2 700C/1200/2400/3200, Opus 6/8/12 kbit/s).

    Raises:
        NscError: unknown family or setting.
    """
    if text is None:
        return []
    items = text.split(",") if isinstance(text, str) else [i for t in text for i in t.split(",")]
    out: list[tuple[str, str | None]] = []
    for item in (i.strip() for i in items):
        if not item or item.lower() == "none":
            continue
        family, _, setting = item.partition(":")
        family = family.lower()
        if family not in ("codec2", "opus"):
            raise NscError(f"unknown baseline {family!r}; choose codec2, opus or none")
        for s in setting.split("+") if setting else [None]:
            if family == "codec2" and s is not None:
                s = s.upper() if s.upper() == "700C" else s
                if s not in bl.CODEC2_MODES:
                    raise NscError(f"unknown Codec2 mode {s!r}; choose from {', '.join(bl.CODEC2_MODES)}")
            if family == "opus" and s is not None:
                from ..registry import parse_bitrate

                try:
                    kbps = parse_bitrate(s)
                except BitrateError as exc:
                    raise NscError(str(exc)) from None
                if not 6.0 <= kbps <= 510.0:
                    raise NscError(f"Opus bitrate {s!r} is outside 6-510 kbit/s")
                s = f"{kbps:g}"
            out.append((family, s))
    return out


def nsc_roundtrip(codec, n_codebooks: int, audio: np.ndarray, postfilter: bool | None = None) -> bl.RoundTrip:
    """Encode and decode one file with an nsc codec, through the `.nsc` bytes.

    This is the single place where nsc audio is coded for evaluation. It goes
    through the public bytes API (``nsc.encode`` -> `.nsc` bytes ->
    ``nsc.decode``), so the rates are those of real files:
    payload bits = 8 x the packets' payload bytes and file bits = 8 x the file
    size, as :func:`nsc.container.inspect` reports them. Where the container is
    not available (an older checkout), it falls back to the model's
    ``encode``/``decode`` and counts payload bits = frames x sum(log2(codebook
    sizes)), file bits = payload bits.

    Args:
        codec: a loaded :class:`nsc.codec.Codec`.
        n_codebooks: codebooks to send.
        audio: float [T] mono at ``codec.sample_rate``.
        postfilter: as ``nsc.decode``'s (None: the codec's default, as ``nsc decode`` does).

    Returns:
        :class:`~nsc.eval.baselines.RoundTrip` with the codes (int64 [Q, F]);
        encode/decode times cover the whole bytes path (packing and CRCs included).
    """
    x = np.asarray(audio, dtype=np.float32)
    duration = len(x) / float(codec.sample_rate)
    nominal = codec.spec.bitrate_kbps(n_codebooks)
    try:
        import nsc
        from nsc import container
    except ImportError:
        return _nsc_roundtrip_direct(codec, n_codebooks, x, duration, nominal)
    t0 = time.perf_counter()
    data = nsc.encode(x, codec.sample_rate, bitrate_kbps=nominal, codec=codec)
    t1 = time.perf_counter()
    decoded, rate = nsc.decode(data, codec=codec, postfilter=postfilter)
    t2 = time.perf_counter()
    if rate != codec.sample_rate:  # pragma: no cover - the API decodes at the codec rate
        raise NscError(f"nsc.decode returned {rate} Hz, expected {codec.sample_rate} Hz")
    report = container.inspect(data)
    _, codes = container.unpack(data)
    bitrate = Bitrate(
        payload_bits=8 * report.payload_bytes, file_bits=8 * report.file_bytes, duration_s=duration, nominal_kbps=nominal
    )
    return bl.RoundTrip(np.asarray(decoded, dtype=np.float32), bitrate, t1 - t0, t2 - t1, codes)


def _nsc_roundtrip_direct(codec, n_codebooks: int, x: np.ndarray, duration: float, nominal: float) -> bl.RoundTrip:
    """Fallback of :func:`nsc_roundtrip` without the container: model encode/decode, bits from the codes."""
    import torch

    t0 = time.perf_counter()
    codes = codec.encode(torch.from_numpy(x).reshape(1, 1, -1), n_codebooks)
    t1 = time.perf_counter()
    decoded = codec.decode(codes)
    t2 = time.perf_counter()
    codes_np = codes[0].numpy()
    bits_per_frame = sum(int(math.log2(s)) for s in codec.spec.codebook_sizes[:n_codebooks])
    payload = int(codes_np.shape[-1]) * bits_per_frame
    bitrate = Bitrate(payload_bits=payload, file_bits=payload, duration_s=duration, nominal_kbps=nominal)
    return bl.RoundTrip(decoded[0, 0].numpy()[: len(x)], bitrate, t1 - t0, t2 - t1, codes_np)


def _kbps_label(kbps: float) -> str:
    return f"{kbps:g}k"


def postfilter_note(codec: str, on: bool) -> str:
    """The evaluation note saying whether ``codec`` was decoded with the postfilter (model cards read it back)."""
    return f"{codec}: decoded {'with' if on else 'without'} the postfilter"


def beam_text(beam_width: int) -> str:
    """``"encoded with beam width N"`` (``" (greedy)"`` added for 1): what :func:`beam_note` says of a codec."""
    return f"encoded with beam width {beam_width}" + (" (greedy)" if beam_width == 1 else "")


def beam_note(codec: str, beam_width: int) -> str:
    """The evaluation note saying with which quantizer search width ``codec`` was encoded (model cards read it back)."""
    return f"{codec}: {beam_text(beam_width)}"


def precision_note(codec) -> str:
    """The evaluation note giving the arithmetic a loaded ``codec``'s decoder runs in (:mod:`nsc.models.precision`)."""
    import torch

    lowered = {str(m.compute_dtype).removeprefix("torch.") for m in codec.inference_model.decoder.modules()
               if getattr(m, "compute_dtype", torch.float32) != torch.float32}
    if not lowered:
        return f"{codec.spec.name}: decoded in float32"
    return f"{codec.spec.name}: decoded with its MSR-CAM blocks in {', '.join(sorted(lowered))}"


def noted_precision(notes: Sequence[str], codec: str) -> str | None:
    """What an evaluation's notes (:func:`precision_note`) say ``codec`` was decoded in, e.g.
    ``"decoded with its MSR-CAM blocks in bfloat16"``, or None."""
    for note in notes:
        m = re.fullmatch(re.escape(f"{codec}: ") + r"(decoded in float32|decoded with its MSR-CAM blocks in .+)", note)
        if m:
            return m.group(1)
    return None


def noted_beam_width(notes: Sequence[str], codec: str) -> int | None:
    """The beam width an evaluation's notes (:func:`beam_note`) say ``codec`` was encoded with, or None."""
    for note in notes:
        m = re.fullmatch(re.escape(f"{codec}: encoded with beam width ") + r"(\d+)( \(greedy\))?", note)
        if m:
            return int(m.group(1))
    return None


def plan_systems(
    codecs: Sequence | None,
    bitrates_kbps: Sequence[float] | None,
    baselines: Sequence[tuple[str, str | None]],
    notes: list[str],
    *,
    opus_rates: Sequence[int] | None = None,
    device: str = "cpu",
    loader: Callable | None = None,
    weights: Mapping[str, str | Path] | None = None,
    postfilter: bool | None = None,
    beam_width: int | None = None,
    precision: str | None = None,
) -> list[System]:
    """Turn a request into the list of systems to run.

    Args:
        codecs: nsc codec names or loaded :class:`nsc.codec.Codec` objects;
            None means every registered codec (codecs without trained weights are
            skipped with a note). Named codecs that fail to load raise.
        bitrates_kbps: rates to run each codec at; None means every rate it offers.
            Without ``codecs``, each rate picks its codec as ``nsc encode -b`` does.
        baselines: from :func:`parse_baselines`. A family whose tools are
            missing is skipped with a one-line note saying how to install it.
        notes: list the notes are appended to.
        opus_rates: Opus comparison rates (Hz); default: the nsc codecs' rates,
            or 8000 when no nsc codec runs.
        device: torch device for nsc codecs.
        loader: ``load_codec``-compatible callable (tests inject tiny models).
        weights: ``{codec name: safetensors path}`` to load instead of the packaged
            weights (a checkpoint under evaluation); each use is noted.
        postfilter: decode with the postfilter (True), without (False), or as each
            codec's default (None); which codecs ran with it is noted.
        beam_width: encode with this quantizer search width, or each codec's default
            (None, as ``nsc encode``); the width each codec ran with is noted.
        precision: decode in this arithmetic (:mod:`nsc.models.precision`), or each
            codec's own (None: ``"auto"``, as ``nsc decode``); the dtype is noted.

    Raises:
        UnknownCodecError, BitrateError, WeightsError: a named codec or rate is unusable.
        NscError: ``beam_width`` is not one a codec can search with, or ``precision`` unknown.
    """
    from ..postfilter import postfilter_for
    from ..registry import CODECS, resolve

    if loader is None:
        from ..codec import load_codec as loader

    systems: list[System] = []
    # Which codecs, at which codebook counts.
    wanted: list[tuple[object, list[int] | None]] = []
    explicit = codecs is not None
    if codecs is None:
        if bitrates_kbps:
            by_name: dict[str, list[int]] = {}
            for kbps in bitrates_kbps:
                spec, n = resolve(None, kbps)
                by_name.setdefault(spec.name, []).append(n)
            wanted = [(name, ns) for name, ns in by_name.items()]
            explicit = True
        else:
            wanted = [(name, None) for name in CODECS]
    else:
        wanted = [(c, None) for c in codecs]

    loaded = []
    for item, ns in wanted:
        if isinstance(item, str):
            given = (weights or {}).get(item)
            try:
                codec = loader(item, device=device, **({"weights": str(given)} if given else {}))
                if given:
                    notes.append(f"{item}: weights from {given}")
            except WeightsError as exc:
                if explicit:
                    raise
                notes.append(f"skipped {item}: {exc}")
                continue
        else:
            codec = item
        if beam_width is not None:
            codec = codec.with_beam_width(beam_width)
        if precision is not None:
            codec = codec.with_precision(precision)
        spec = codec.spec
        if ns is None:
            if bitrates_kbps:
                ns = []
                for kbps in bitrates_kbps:
                    try:
                        ns.append(spec.n_codebooks_for(kbps))
                    except BitrateError:
                        pass
                if not ns:
                    raise BitrateError(
                        f"{spec.name} offers none of the asked bitrates; it offers "
                        + ", ".join(_kbps_label(b) for b in spec.bitrates_kbps)
                    )
            else:
                ns = list(spec.n_codebooks_options)
        loaded.append(codec)
        notes.append(postfilter_note(spec.name, postfilter_for(spec, postfilter) is not None))
        notes.append(beam_note(spec.name, codec.beam_width))
        notes.append(precision_note(codec))
        for n in sorted(set(ns)):
            kbps = spec.bitrate_kbps(n)
            systems.append(
                System(
                    name=f"{spec.name} {kbps:.3g}k",
                    codec=spec.name,
                    kind="nsc",
                    sample_rate=spec.sample_rate,
                    nominal_kbps=kbps,
                    run=lambda audio, c=codec, n=n: nsc_roundtrip(c, n, audio, postfilter),
                    codebook_sizes=tuple(spec.codebook_sizes),
                )
            )

    if opus_rates is None:
        opus_rates = sorted({c.spec.sample_rate for c in loaded} & {8000, 16000}) or [8000]
    families_done: set[str] = set()
    for family, setting in baselines:
        try:
            bl.check_tools(family)
        except bl.ToolMissingError as exc:
            if family not in families_done:
                notes.append(str(exc))
            families_done.add(family)
            continue
        if family == "codec2":
            for mode in [setting] if setting else bl.CODEC2_DEFAULT_MODES:
                bits, samples = bl.CODEC2_MODES[mode]
                systems.append(
                    System(
                        name=f"codec2 {mode}",
                        codec="codec2",
                        kind="baseline",
                        sample_rate=8000,
                        nominal_kbps=bits / (samples / 8000.0) / 1000.0,
                        run=lambda audio, m=mode: bl.codec2_roundtrip(audio, m),
                    )
                )
        else:
            for rate in opus_rates:
                band = "nb" if rate == 8000 else "wb"
                for kbps in [float(setting)] if setting else bl.OPUS_DEFAULT_KBPS:
                    systems.append(
                        System(
                            name=f"opus-{band} {_kbps_label(kbps)}",
                            codec=f"opus-{band}",
                            kind="baseline",
                            sample_rate=rate,
                            nominal_kbps=kbps,
                            run=lambda audio, r=rate, k=kbps: bl.opus_roundtrip(audio, r, k),
                        )
                    )
    # A system requested twice runs once.
    unique: dict[str, System] = {}
    for s in systems:
        unique.setdefault(s.name, s)
    return list(unique.values())


# ----------------------------------------------------------------------------- scoring


def _score(
    path: Path, system: System, reference: np.ndarray, trip: bl.RoundTrip, use_visqol: bool
) -> tuple[FileScore, np.ndarray]:
    sr = system.sample_rate
    aligned, info = align(reference, trip.decoded.astype(np.float64), sr)
    row = FileScore(
        file=str(path),
        system=system.name,
        codec=system.codec,
        kind=system.kind,
        sample_rate=sr,
        nominal_kbps=trip.bitrate.nominal_kbps,
        payload_kbps=trip.bitrate.payload_kbps,
        file_kbps=trip.bitrate.file_kbps,
        payload_bits=trip.bitrate.payload_bits,
        file_bits=trip.bitrate.file_bits,
        duration_s=trip.bitrate.duration_s,
        delay_samples=info.delay,
        waveform_aligned=info.refined,
        pesq_mode=pesq_mode(sr) if sr in (8000, 16000) else "",
        pesq=pesq_score(reference, aligned, sr) if sr in (8000, 16000) else math.nan,
        stoi=stoi_score(reference, aligned, sr),
        visqol=visqol_score(reference, aligned, sr) if use_visqol else math.nan,
        lsd_db=log_spectral_distance(reference, aligned, sr),
        encode_s=trip.encode_s,
        decode_s=trip.decode_s,
    )
    return row, aligned.astype(np.float32)


def _nanmean(values: list[float]) -> float:
    v = [x for x in values if isinstance(x, float) and math.isfinite(x)]
    return float(np.mean(v)) if v else math.nan


def _summarise(system: System, rows: list[FileScore], n_failed: int) -> SystemSummary:
    dur = sum(r.duration_s for r in rows)
    enc = sum(r.encode_s for r in rows)
    dec = sum(r.decode_s for r in rows)
    return SystemSummary(
        system=system.name,
        codec=system.codec,
        kind=system.kind,
        sample_rate=system.sample_rate,
        nominal_kbps=system.nominal_kbps,
        payload_kbps=sum(r.payload_bits for r in rows) / dur / 1000.0 if dur else math.nan,
        file_kbps=sum(r.file_bits for r in rows) / dur / 1000.0 if dur else math.nan,
        n_files=len(rows),
        n_failed=n_failed,
        duration_s=dur,
        pesq_mode=rows[0].pesq_mode if rows else "",
        pesq=_nanmean([r.pesq for r in rows]),
        stoi=_nanmean([r.stoi for r in rows]),
        visqol=_nanmean([r.visqol for r in rows]),
        lsd_db=_nanmean([r.lsd_db for r in rows]),
        encode_xrt=dur / enc if enc > 0 else math.nan,
        decode_xrt=dur / dec if dec > 0 else math.nan,
    )


def evaluate(
    references: Sequence[str | Path],
    codecs: Sequence | None = None,
    baselines: str | Sequence[tuple[str, str | None]] | None = "codec2,opus",
    out_dir: str | Path | None = None,
    *,
    bitrates_kbps: Sequence[float] | None = None,
    visqol: bool | None = None,
    example_file: str | Path | None = None,
    example_kbps: float = 2.4,
    opus_rates: Sequence[int] | None = None,
    device: str = "cpu",
    threads: int | None = 1,
    progress: bool = False,
    loader: Callable | None = None,
    weights: Mapping[str, str | Path] | None = None,
    jobs: int = 1,
    postfilter: bool | None = None,
    beam_width: int | None = None,
    precision: str | None = None,
) -> EvalResult:
    """Encode, decode and score every reference file with every system.

    Args:
        references: audio files and/or folders (searched recursively).
        codecs: nsc codec names or loaded codecs; None = every registered codec
            that has trained weights; ``[]`` = baselines only.
        baselines: ``"codec2,opus"``-style text (see :func:`parse_baselines`), parsed
            pairs, or None/``"none"`` for no baselines.
        out_dir: where to write ``scores.csv``, ``summary.md``, ``summary.json``,
            ``quality_vs_bitrate.png`` and ``spectrograms.png``; None writes nothing.
        bitrates_kbps: nsc rates (kbit/s); None = every rate each codec offers.
        visqol: score ViSQOL; None = when ``visqol-python`` is installed.
        example_file: file shown in the spectrogram plot (default: the first).
        example_kbps: for the spectrogram, each codec is shown at its rate nearest this.
        opus_rates: Opus comparison rates (Hz); default from the nsc codecs.
        device: torch device for nsc codecs.
        threads: torch CPU threads while evaluating (restored afterwards); None leaves it.
        progress: show a Rich progress bar on stderr.
        loader: ``load_codec``-compatible callable (tests).
        weights: ``{codec name: safetensors path}`` overriding packaged weights
            (e.g. a training run's ``best.safetensors``).
        jobs: files coded and scored in parallel, each worker process with
            ``threads`` torch threads. Needs ``codecs`` as names (or None) and
            no ``loader``; otherwise it runs serially with a note. Results and
            their order do not depend on ``jobs``; the speeds are per process.
        postfilter: as in :func:`plan_systems` (None: each codec's ``nsc decode`` default).
        beam_width: as in :func:`plan_systems` (None: each codec's ``nsc encode`` default).
        precision: as in :func:`plan_systems` (None: ``"auto"``, as ``nsc decode``).

    Returns:
        :class:`EvalResult`.

    Raises:
        AudioError: no usable reference files.
        NscError: nothing to evaluate, or a named codec/bitrate is unusable.
    """
    import torch

    files = find_audio(references)
    result = EvalResult(files=files)
    if isinstance(baselines, str) or baselines is None:
        baselines = parse_baselines(baselines)
    old_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        systems = plan_systems(
            codecs, bitrates_kbps, baselines, result.notes, opus_rates=opus_rates, device=device, loader=loader,
            weights=weights, postfilter=postfilter, beam_width=beam_width, precision=precision,
        )
        if not systems:
            raise NscError("nothing to evaluate: " + ("; ".join(result.notes) or "no codecs and no baselines"))
        use_visqol = visqol_available() if visqol is None else visqol
        if use_visqol and not visqol_available():
            result.notes.append("ViSQOL skipped: visqol-python is not installed (pip install visqol-python[lattice])")
            use_visqol = False
        result.visqol = visqol_mapper() if use_visqol else None
        if result.visqol == "polynomial":
            result.notes.append(
                "ViSQOL uses the polynomial mapper (ai-edge-litert missing): it reads higher than C++ ViSQOL's default"
            )
        example = Path(example_file) if example_file is not None else files[0]
        result.example = {"file": str(example), "reference": {}, "systems": {}, "kbps": example_kbps}
        plan = None
        if jobs > 1:
            if loader is None and (codecs is None or all(isinstance(c, str) for c in codecs)):
                plan = dict(codecs=None if codecs is None else list(codecs), bitrates_kbps=bitrates_kbps,
                            baselines=list(baselines), opus_rates=opus_rates, device=device,
                            weights=None if weights is None else {k: str(v) for k, v in weights.items()},
                            postfilter=postfilter, beam_width=beam_width, precision=precision)
            else:
                result.notes.append("jobs > 1 ignored: codecs given as loaded objects run in this process only")
        _run_all(files, systems, result, use_visqol, example, progress, jobs=jobs, plan=plan, threads=threads)
    finally:
        torch.set_num_threads(old_threads)
    if out_dir is not None:
        from .report import write_reports

        result.outputs = write_reports(result, Path(out_dir))
    return result


@dataclass
class _FileOutcome:
    """What one reference file gave across all systems (returned by worker processes)."""

    rows: list[FileScore] = field(default_factory=list)
    codes: dict[str, np.ndarray] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    reference: dict = field(default_factory=dict)
    example: dict = field(default_factory=dict)


def _run_file(path: Path, systems: list[System], use_visqol: bool, example_systems: set[str] | None) -> _FileOutcome:
    """Code and score one file with every system; ``example_systems`` set = keep aligned outputs for the plot."""
    out = _FileOutcome()
    rates = sorted({s.sample_rate for s in systems})
    try:
        refs = {rate: load_reference(path, rate) for rate in rates}
    except AudioError as exc:
        out.notes.append(str(exc))
        out.failed = [s.name for s in systems]
        return out
    if example_systems is not None:
        out.reference = {r: a.astype(np.float32) for r, a in refs.items()}
    for system in systems:
        try:
            trip = system.run(refs[system.sample_rate])
            row, aligned = _score(path, system, refs[system.sample_rate], trip, use_visqol)
        except NscError as exc:
            out.failed.append(system.name)
            out.notes.append(f"{path.name} · {system.name}: {exc}")
            continue
        out.rows.append(row)
        if trip.codes is not None:
            out.codes[system.name] = trip.codes
        if example_systems is not None and system.name in example_systems:
            out.example[system.name] = (system.codec, system.sample_rate, aligned)
    return out


# Worker-process state for ``jobs > 1``: each worker plans (loads) the systems once.
_WORKER: dict = {}


def _worker_init(plan: dict, threads: int | None, use_visqol: bool) -> None:
    import torch

    if threads:
        torch.set_num_threads(threads)
    _WORKER["systems"] = plan_systems(notes=[], **plan)
    _WORKER["use_visqol"] = use_visqol


def _worker_file(path: Path, example_systems: set[str] | None) -> _FileOutcome:
    return _run_file(path, _WORKER["systems"], _WORKER["use_visqol"], example_systems)


def _run_all(
    files: list[Path], systems: list[System], result: EvalResult, use_visqol: bool, example: Path, progress: bool,
    jobs: int = 1, plan: dict | None = None, threads: int | None = 1,
) -> None:
    """Run every file through every system, serially or in ``jobs`` worker processes (``plan`` rebuilds the systems)."""
    per_system: dict[str, list[FileScore]] = {s.name: [] for s in systems}
    failed: dict[str, int] = {s.name: 0 for s in systems}
    codes: dict[str, list[np.ndarray]] = {}
    example_systems = _example_systems(systems, result.example["kbps"])
    example = example.resolve()

    def want(path: Path) -> set[str] | None:
        return example_systems if path.resolve() == example else None

    bar = None
    if progress:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        bar = Progress(
            TextColumn("[bold]eval[/]"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.description}"),
            transient=True,
        )
        bar.start()
        task = bar.add_task("", total=len(files))

    def collect(path: Path, got: _FileOutcome) -> None:
        result.notes.extend(got.notes)
        for name in got.failed:
            failed[name] += 1
        for row in got.rows:
            result.rows.append(row)
            per_system[row.system].append(row)
        for name, c in got.codes.items():
            codes.setdefault(name, []).append(c)
        if got.reference:
            result.example["reference"] = got.reference
            result.example["systems"].update(got.example)
        if bar:
            bar.update(task, advance=1, description=path.name)

    try:
        if jobs > 1 and plan is not None and len(files) > 1:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            with ProcessPoolExecutor(
                max_workers=min(jobs, len(files)), mp_context=multiprocessing.get_context("spawn"),
                initializer=_worker_init, initargs=(plan, threads, use_visqol),
            ) as pool:
                futures = [pool.submit(_worker_file, path, want(path)) for path in files]
                try:
                    for path, fut in zip(files, futures):  # in file order: results do not depend on jobs
                        collect(path, fut.result())
                except BaseException:
                    for fut in futures:
                        fut.cancel()
                    raise
        else:
            for path in files:
                collect(path, _run_file(path, systems, use_visqol, want(path)))
    finally:
        if bar:
            bar.stop()

    result.summaries = [_summarise(s, per_system[s.name], failed[s.name]) for s in systems]
    by_name = {s.name: s for s in systems}
    for name, arrays in codes.items():
        result.codebook_usage[name] = codebook_usage(arrays, by_name[name].codebook_sizes)


def _example_systems(systems: list[System], kbps: float) -> set[str]:
    """For the spectrogram: per codec line, the system whose rate is nearest ``kbps``."""
    best: dict[str, System] = {}
    for s in systems:
        cur = best.get(s.codec)
        if cur is None or abs(math.log(s.nominal_kbps / kbps)) < abs(math.log(cur.nominal_kbps / kbps)):
            best[s.codec] = s
    return {s.name for s in best.values()}
