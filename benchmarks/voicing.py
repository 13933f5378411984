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
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SYSTEMS = "mscacodec-nb@1.2k,mscacodec-nb@2.4k,codec2:1200,codec2:2400,mscacodec-wb@3k,opus:8"
UNVOICED = -200.0  # Praat's value for a frame without a period


def hnr_track(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Praat harmonicity (cross-correlation method) of float [T] audio: float64 [frames] in dB, -200 = unvoiced."""
    import parselmouth

    sound = parselmouth.Sound(np.asarray(audio, dtype=np.float64), sampling_frequency=sample_rate)
    track = sound.to_harmonicity_cc(time_step=0.01, minimum_pitch=75.0)
    return np.asarray(track.values[0], dtype=np.float64)


def voicing_scores(reference: np.ndarray, decoded: np.ndarray, sample_rate: int) -> tuple[int, int, float]:
    """(reference-voiced frames, of which still voiced, summed decoded HNR dB over them; unvoiced = 0 dB)."""
    ref = hnr_track(reference, sample_rate)
    dec = hnr_track(decoded, sample_rate)
    n = min(len(ref), len(dec))
    voiced = ref[:n] > UNVOICED
    kept = dec[:n][voiced] > UNVOICED
    return int(voiced.sum()), int(kept.sum()), float(np.where(kept, dec[:n][voiced], 0.0).sum())


def pitch_track(audio: np.ndarray, sample_rate: int, n_frames: int) -> np.ndarray:
    """Praat F0 of float [T] audio at 20 ms steps (frame centres 10, 30, ... ms): float64 [n_frames] in Hz, NaN = unvoiced."""
    import parselmouth

    pitch = parselmouth.Sound(np.asarray(audio, dtype=np.float64), sampling_frequency=sample_rate).to_pitch(
        time_step=0.02, pitch_floor=75.0, pitch_ceiling=400.0)
    times = (np.arange(n_frames) + 0.5) * 0.02
    return np.array([pitch.get_value_at_time(t) for t in times], dtype=np.float64)


def pitch_scores(reference: np.ndarray, decoded: np.ndarray, sample_rate: int) -> tuple[int, np.ndarray]:
    """(frames where the reference has a pitch, float64 [k] |F0 error| in cents where the decoded output has one too)."""
    n = len(reference) * 50 // sample_rate
    ref, dec = pitch_track(reference, sample_rate, n), pitch_track(decoded, sample_rate, n)
    pitched = np.isfinite(ref)
    both = pitched & np.isfinite(dec)
    return int(pitched.sum()), 1200.0 * np.abs(np.log2(dec[both] / ref[both]))


def _system_roundtrip(spec: str, weights: dict[str, Path]):
    """``codec@rate`` or ``codec2:MODE`` / ``opus:KBPS`` -> (label, sample_rate, fn(float [T]) -> float [T'])."""
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
    codec = load_codec(name, weights=str(weights[name]) if name in weights else None)
    n_codebooks = codec.spec.n_codebooks_for(parse_bitrate(rate))
    return f"{name} {rate}", codec.sample_rate, lambda x: nsc_roundtrip(codec, n_codebooks, x).decoded


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--manifest", type=Path, default=ROOT.parent / "shared" / "data" / "speech" / "manifest.csv")
    p.add_argument("--every", type=int, default=1, help="take every N-th valid file (default: all)")
    p.add_argument("--systems", default=DEFAULT_SYSTEMS, help="comma-separated: CODEC@RATE, codec2:MODE, opus:KBPS")
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
    systems = [_system_roundtrip(s, {k: Path(v) for k, v in weights.items()}) for s in args.systems.split(",")]
    files = find_audio([args.manifest], split="valid")[:: args.every]
    rates = sorted({rate for _, rate, _ in systems})
    totals = {label: [0, 0, 0.0] for label in [f"reference ({r // 1000} kHz)" for r in rates] + [s[0] for s in systems]}
    pitch = {label: [0, []] for label in totals}  # frames with a reference pitch, F0 errors (cents)
    for i, path in enumerate(files):
        print(f"[{i + 1}/{len(files)}] {path.name}", file=sys.stderr)
        refs = {rate: load_reference(path, rate).astype(np.float32) for rate in rates}
        for rate, ref in refs.items():
            track = hnr_track(ref, rate)
            voiced = track[track > UNVOICED]
            row = totals[f"reference ({rate // 1000} kHz)"]
            row[0] += len(voiced)
            row[1] += len(voiced)
            row[2] += float(voiced.sum())
            n_pitched = int(np.isfinite(pitch_track(ref, rate, len(ref) * 50 // rate)).sum())
            pitch[f"reference ({rate // 1000} kHz)"][0] += n_pitched
        for label, rate, fn in systems:
            ref = refs[rate]
            decoded, _ = align(ref, fn(ref), rate)
            n, kept, hnr = voicing_scores(ref, decoded, rate)
            row = totals[label]
            row[0] += n
            row[1] += kept
            row[2] += hnr
            n_pitched, cents = pitch_scores(ref, decoded, rate)
            pitch[label][0] += n_pitched
            pitch[label][1].append(cents)
    lines = [
        f"Voicing after each codec: {len(files)} files of the valid split; Praat HNR (cc) on the reference's voiced "
        "frames, Praat pitch on the frames where the reference has one",
        "",
        "| system | voiced frames | voiced kept | HNR dB | pitch kept | F0 error, cents |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, (n, kept, hnr) in totals.items():
        n_pitched, errors = pitch[label]
        errors = np.concatenate(errors) if errors else np.zeros(0)
        if label.startswith("reference"):
            kept_pitch, error = "100%", "0"
        else:
            kept_pitch, error = f"{len(errors) / max(n_pitched, 1):.0%}", f"{np.median(errors):.0f}" if len(errors) else "-"
        lines.append(f"| {label} | {n} | {kept / max(n, 1):.0%} | {hnr / max(n, 1):.1f} | {kept_pitch} | {error} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.markdown:
        args.markdown.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
