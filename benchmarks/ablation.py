"""Quantizer ablation: RVQ vs GRVQ vs SRVQ on one backbone at about 1 kbit/s.

    python benchmarks/ablation.py [--runs runs] [--manifest ../shared/data/speech/manifest.csv]
        [--no-eval] [--no-visqol]

The three arms are trained first with the recipes in ``nsc/train/recipes/ablation/``
(``nsc train nsc/train/recipes/ablation/rvq-1k.toml`` and so on): the same
MSCACodec-wb backbone (MSR-CAM + TCGRU, 16 kHz, hop 320), warm-started from
the packaged mscacodec-wb encoder/decoder, a fresh quantizer, the same steps,
seed and data. This script then

1. scores each arm's ``last.safetensors`` on the valid split in one ``nsc eval``
   run (:func:`nsc.eval.evaluate` with ``weights=``), written to
   ``benchmarks/results/ablation/`` (skipped with ``--no-eval``: the existing
   ``summary.json`` is reused);
2. writes ``benchmarks/results/ablation/table.md``: per quantizer the exact
   bitrate, PESQ-WB, STOI, ViSQOL, codebook utilisation and perplexity, and the
   training-time validation figures; ``benchmarks/update_readme.py`` copies it
   into the README.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "ablation"
# (label, codec whose quantizer the arm uses, run folder name, bitrate kbit/s)
ARMS = [
    ("RVQ, 2 x 1024", "mscacodec-wb", "ablation-rvq-1k", 1.0),
    ("GRVQ, 2 groups x 1 stage x 1024", "hificodec-16k", "ablation-grvq-1k", 1.0),
    ("SRVQ 512 + 1024, dual attention", "srcodec-16k", "ablation-srvq-0.95k", 0.95),
]


def run_eval(runs: Path, manifest: Path, visqol: bool) -> dict:
    """Score the three arms on the valid split; returns the summary dict (also written to ``OUT``)."""
    from nsc.eval import evaluate, find_audio

    weights = {codec: runs / folder / "last.safetensors" for _, codec, folder, _ in ARMS}
    missing = [str(p) for p in weights.values() if not p.exists()]
    if missing:
        raise SystemExit(f"train the ablation arms first; missing {', '.join(missing)}")
    result = evaluate(find_audio([manifest], split="valid"), codecs=[c for _, c, _, _ in ARMS], baselines="none",
                      out_dir=OUT, bitrates_kbps=sorted({k for *_, k in ARMS}), visqol=visqol, weights=weights,
                      progress=True)
    return result.to_dict()


def _valid_curve(log: Path) -> str:
    from nsc.train.curves import first_metric, read_log, valid_points

    cells = [f"{p['step']}: {first_metric(p['valid'], 'pesq'):.2f} / {first_metric(p['valid'], 'stoi'):.3f}"
             for p in valid_points(read_log(log))]
    return "; ".join(cells) or "-"


def _valid_subset(run: Path) -> str:
    """Which valid files an arm's training validated on, e.g. ``"first 8 s of 8 files"``.

    Read from the log's validation records (:func:`nsc.train.curves.valid_subset`); logs written
    before the records named their subset fall back to the resolved config in ``last.ckpt``.
    Returns ``""`` when neither says.
    """
    from nsc.train.curves import read_log, valid_subset

    words = valid_subset(read_log(run / "log.jsonl")) if (run / "log.jsonl").exists() else ""
    if not words and (run / "last.ckpt").exists():
        import torch

        cfg = torch.load(run / "last.ckpt", map_location="cpu", weights_only=False)["config"]["run"]
        words = f"first {cfg['valid_max_s']:g} s of {cfg['valid_files']} files"
    return words


def table(summary: dict, runs: Path) -> str:
    """The ablation table (Markdown) from an ``nsc eval`` summary and the arms' training logs."""
    by_codec = {s["codec"]: s for s in summary["summary"] if s["kind"] == "nsc"}
    usage = summary.get("codebook_usage", {})
    subsets = {_valid_subset(runs / folder) for _, _, folder, _ in ARMS} - {""}
    subset = f", {subsets.pop()}" if len(subsets) == 1 else ""
    lines = [
        "| quantizer | payload kbit/s | PESQ-WB | STOI | ViSQOL | codebook use (share / perplexity) "
        f"| training validation (step: PESQ / STOI{subset}) |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, codec, folder, _ in ARMS:
        s = by_codec.get(codec)
        if s is None:
            continue
        use = ", ".join(f"{u['utilisation'] * 100:.0f} % / {u['perplexity']:.0f} of {u['size']}"
                        for u in usage.get(s["system"], []))

        def f(v, d=2):
            return "-" if v is None else f"{v:.{d}f}"

        lines.append(f"| {label} | {f(s['payload_kbps'], 3)} | {f(s['pesq'])} | {f(s['stoi'], 3)} | {f(s['visqol'])} "
                     f"| {use} | {_valid_curve(runs / folder / 'log.jsonl')} |")
    n_files = summary["summary"][0]["n_files"] if summary["summary"] else 0
    lines.append("")
    lines.append(f"Valid split ({n_files} files, held-out speakers), one `nsc eval` run. Every arm: the packaged "
                 "mscacodec-wb encoder/decoder of the time (MSR-CAM + TCGRU), a fresh quantizer, the same seed, data and "
                 "steps (recipes in `nsc/train/recipes/ablation/`).")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=Path, default=ROOT / "runs")
    p.add_argument("--manifest", type=Path, default=ROOT.parent / "shared" / "data" / "speech" / "manifest.csv")
    p.add_argument("--no-eval", action="store_true", help="reuse benchmarks/results/ablation/summary.json")
    p.add_argument("--no-visqol", action="store_true")
    a = p.parse_args()
    if a.no_eval:
        summary = json.loads((OUT / "summary.json").read_text())
    else:
        summary = run_eval(a.runs, a.manifest, not a.no_visqol)
    text = table(summary, a.runs)
    (OUT / "table.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
