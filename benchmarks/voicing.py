"""How much of the voicing (periodicity) of speech survives each codec.

    python benchmarks/voicing.py [--manifest ../shared/data/speech/manifest.csv] [--every 2]
        [--systems mscacodec-nb@1.2k,codec2:1200,...] [-w CODEC=WEIGHTS ...] [--markdown OUT.md]

PESQ and ViSQOL punish a codec whose vowels come back rough or whispered even
when the spectral envelope, and so STOI, is right. This script measures that
directly with Praat's harmonics-to-noise ratio (HNR, ``To Harmonicity (cc)``:
Boersma 1993, via ``praat-parselmouth``; 10 ms steps, pitch floor 75 Hz):

* on the frames where the **reference** is voiced (Praat finds a period),
* ``voiced kept``: the share of those frames that are still voiced after the codec;
* ``HNR dB``: the mean HNR over those frames after the codec, a frame the codec
  made unvoiced counting as 0 dB (as much noise as harmonics); the reference's
  own mean is the first row;

and with Praat's pitch tracker (``To Pitch``, 75-400 Hz, 20 ms steps), on the
frames where the reference has a pitch:

* ``pitch kept``: the share of them where the codec's output has one too;
* ``F0 error``: the median distance between the two pitches, in cents
  (100 cents = one semitone), over the frames where both have one.

Each file of the valid split (every ``--every``-th) is coded by every system
at its own rate (nsc codecs through the `.nsc` bytes, Codec2 and Opus through
their tools, exactly as ``nsc eval`` does), delay-aligned to the reference and
measured at the system's rate. Needs ``pip install praat-parselmouth``
(not a dependency of nsc itself).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SYSTEMS = ("mscacodec-nb@1.2k:raw,mscacodec-nb@1.2k,mscacodec-nb@2.4k,codec2:1200,codec2:2400,"
                   "mscacodec-wb@3k:raw,mscacodec-wb@3k,opus:8")
UNVOICED = -200.0  # Praat's value for a frame without a period


def hnr_track(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Praat harmonicity (cross-correlation method) of float [T] audio: float64 [frames] in dB, -200 = unvoiced."""
    import parselmouth

    sound = parselmouth.Sound(np.asarray(audio, dtype=np.float64), sampling_frequency=sample_rate)
    track = sound.to_harmonicity_cc(time_step=0.01, minimum_pitch=75.0)
    return np.asarray(track.values[0], dtype=np.float64)


def pitch_track(audio: np.ndarray, sample_rate: int, n_frames: int) -> np.ndarray:
    """Praat F0 of float [T] audio at 20 ms steps (frame centres 10, 30, ... ms): float64 [n_frames] in Hz, NaN = unvoiced."""
    import parselmouth

    pitch = parselmouth.Sound(np.asarray(audio, dtype=np.float64), sampling_frequency=sample_rate).to_pitch(
        time_step=0.02, pitch_floor=75.0, pitch_ceiling=400.0)
    times = (np.arange(n_frames) + 0.5) * 0.02
    return np.array([pitch.get_value_at_time(t) for t in times], dtype=np.float64)


def _n_pitch_frames(audio: np.ndarray, sample_rate: int) -> int:
    return len(audio) * 50 // sample_rate


def _voicing_vs(ref_hnr: np.ndarray, decoded: np.ndarray, sample_rate: int) -> tuple[int, int, float]:
    dec = hnr_track(decoded, sample_rate)
    n = min(len(ref_hnr), len(dec))
    voiced = ref_hnr[:n] > UNVOICED
    kept = dec[:n][voiced] > UNVOICED
    return int(voiced.sum()), int(kept.sum()), float(np.where(kept, dec[:n][voiced], 0.0).sum())


def _pitch_vs(ref_f0: np.ndarray, decoded: np.ndarray, sample_rate: int) -> tuple[int, np.ndarray]:
    dec = pitch_track(decoded, sample_rate, len(ref_f0))
    pitched = np.isfinite(ref_f0)
    both = pitched & np.isfinite(dec)
    return int(pitched.sum()), 1200.0 * np.abs(np.log2(dec[both] / ref_f0[both]))


def voicing_scores(reference: np.ndarray, decoded: np.ndarray, sample_rate: int) -> tuple[int, int, float]:
    """(reference-voiced frames, of which still voiced, summed decoded HNR dB over them; unvoiced = 0 dB)."""
    return _voicing_vs(hnr_track(reference, sample_rate), decoded, sample_rate)


def pitch_scores(reference: np.ndarray, decoded: np.ndarray, sample_rate: int) -> tuple[int, np.ndarray]:
    """(frames where the reference has a pitch, float64 [k] |F0 error| in cents where the decoded output has one too)."""
    return _pitch_vs(pitch_track(reference, sample_rate, _n_pitch_frames(reference, sample_rate)), decoded, sample_rate)


@dataclass
class Tally:
    """One table row, summed over files."""

    voiced: int = 0  # reference-voiced HNR frames
    kept: int = 0  # of which still voiced
    hnr_sum: float = 0.0  # dB, unvoiced = 0
    pitched: int = 0  # reference frames with a pitch
    cents: list = field(default_factory=list)  # |F0 error| arrays where both have a pitch

    def add(self, voicing: tuple[int, int, float], pitch: tuple[int, np.ndarray]) -> None:
        """Add one file: ``voicing`` from :func:`voicing_scores`, ``pitch`` from :func:`pitch_scores`."""
        voiced, kept, hnr_sum = voicing
        self.voiced += voiced
        self.kept += kept
        self.hnr_sum += hnr_sum
        self.pitched += pitch[0]
        self.cents.append(pitch[1])

    def row(self, label: str) -> str:
        cents = np.concatenate(self.cents) if self.cents else np.zeros(0)
        error = f"{np.median(cents):.0f}" if len(cents) else "-"
        return (f"| {label} | {self.voiced} | {self.kept / max(self.voiced, 1):.0%} | "
                f"{self.hnr_sum / max(self.voiced, 1):.1f} | {len(cents) / max(self.pitched, 1):.0%} | {error} |")


def _system_roundtrip(spec: str, weights: dict[str, str]):
    """``codec@rate[:raw]`` or ``codec2:MODE`` / ``opus:KBPS`` -> (label, sample_rate, fn(float [T]) -> float [T']).

    An nsc codec decodes as ``nsc decode`` does (with its default postfilter); ``:raw`` without any postfilter.
    """
    from nsc.eval import baselines as bl
    from nsc.eval.runner import nsc_roundtrip

    if spec.startswith("codec2:"):
        mode = spec.split(":", 1)[1]
        return f"codec2 {mode}", 8000, lambda x: bl.codec2_roundtrip(x, mode).decoded
    if spec.startswith("opus:"):
        kbps = float(spec.split(":", 1)[1])
        return f"opus-wb {kbps:g}k", 16000, lambda x: bl.opus_roundtrip(x, 16000, kbps).decoded
    from nsc.codec import load_codec
    from nsc.registry import parse_bitrate

    name, rate = spec.split("@")
    rate, raw = (rate[: -len(":raw")], True) if rate.endswith(":raw") else (rate, False)
    codec = load_codec(name, weights=weights.get(name))
    n_codebooks = codec.spec.n_codebooks_for(parse_bitrate(rate))
    postfilter = False if raw else None
    label = f"{name} {rate}" + (", no postfilter" if raw and codec.spec.postfilter else "")
    return label, codec.sample_rate, lambda x: nsc_roundtrip(codec, n_codebooks, x, postfilter).decoded


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--manifest", type=Path, default=ROOT.parent / "shared" / "data" / "speech" / "manifest.csv")
    p.add_argument("--every", type=int, default=1, help="take every N-th valid file (default: all)")
    p.add_argument("--systems", default=DEFAULT_SYSTEMS, help="comma-separated: CODEC@RATE (CODEC@RATE:raw: without the postfilter), codec2:MODE, opus:KBPS")
    p.add_argument("-w", "--weights", action="append", default=[], metavar="CODEC=PATH",
                   help="weights for an nsc codec instead of the packaged ones")
    p.add_argument("--markdown", type=Path, metavar="OUT.md", help="also write the table as Markdown")
    args = p.parse_args(argv)
    try:
        import parselmouth  # noqa: F401
    except ImportError:
        raise SystemExit("this benchmark needs Praat: pip install praat-parselmouth")
    import torch

    from nsc.eval import find_audio
    from nsc.eval.align import align
    from nsc.eval.runner import load_reference

    torch.set_num_threads(1)
    weights = dict(item.split("=", 1) for item in args.weights)
    systems = [_system_roundtrip(s, weights) for s in args.systems.split(",")]
    files = find_audio([args.manifest], split="valid")[:: args.every]
    rates = sorted({rate for _, rate, _ in systems})
    tallies = {f"reference ({r // 1000} kHz)": Tally() for r in rates} | {label: Tally() for label, _, _ in systems}
    for i, path in enumerate(files):
        print(f"[{i + 1}/{len(files)}] {path.name}", file=sys.stderr)
        refs = {}
        for rate in rates:  # the reference's tracks, once per rate; its own row scores it against itself
            ref = load_reference(path, rate).astype(np.float32)
            hnr, f0 = hnr_track(ref, rate), pitch_track(ref, rate, _n_pitch_frames(ref, rate))
            voiced, pitched = hnr[hnr > UNVOICED], int(np.isfinite(f0).sum())
            tallies[f"reference ({rate // 1000} kHz)"].add((len(voiced), len(voiced), float(voiced.sum())),
                                                           (pitched, np.zeros(pitched)))
            refs[rate] = (ref, hnr, f0)
        for label, rate, fn in systems:
            ref, hnr, f0 = refs[rate]
            decoded, _ = align(ref, fn(ref), rate)
            tallies[label].add(_voicing_vs(hnr, decoded, rate), _pitch_vs(f0, decoded, rate))
    lines = [
        f"Voicing after each codec: {len(files)} files of the valid split; Praat HNR (cc) on the reference's voiced "
        "frames, Praat pitch on the frames where the reference has one",
        "",
        "| system | voiced frames | voiced kept | HNR dB | pitch kept | F0 error, cents |",
        "|---|---:|---:|---:|---:|---:|",
    ] + [tally.row(label) for label, tally in tallies.items()]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.markdown:
        args.markdown.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
