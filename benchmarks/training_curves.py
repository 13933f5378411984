"""Learning curves of training runs against the baselines they must beat.

    python benchmarks/training_curves.py [--runs runs] [--codecs mscacodec-nb,mscacodec-wb]
        [--eval benchmarks/results/eval-valid/summary.json] [--out benchmarks/results/training-curves]
        [--trial CODEC=RUNDIR@FROM_STEP:LABEL ...]
    python benchmarks/training_curves.py --lineage benchmarks/results/training-logs   (-> results/training-lineage)

For each codec, one row of three panels against hours trained (summed over
resumed launches): the training mel loss, and PESQ and STOI of the
training-time validation (fixed subset of the valid split, every logged
codebook count). Dashed lines are the baselines of the same sample rate in an
``nsc eval`` summary of the whole valid split (Codec2 at 8 kHz, Opus at 16 kHz). Writes ``OUT.png`` and ``OUT.md``
(the validation points as a table, plus the mel loss at each codebook count
where logged).

A ``--trial`` is a side run that started from the codec's main run at step
FROM_STEP (a changed loss, a wider decoder, ...). It is drawn in the same row
at the first headline codebook count, its hours added to the main run's hours
at FROM_STEP, so both read as CPU-hours spent on the codec. A trial whose log
restarts at step 0 (``run.init_from``) is shifted by FROM_STEP; one resumed
from a copied checkpoint keeps its own steps.

``--lineage DIR`` reads ``DIR/<codec>.jsonl`` instead of ``RUNS/<codec>/log.jsonl``:
the committed lineage of the shipped weights (``benchmarks/results/training-logs``),
whose early runs kept only their validation points. Their wall-clock time is
lost, so that plot is drawn against training steps, not hours.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _series(records: list[dict], by_step: bool = False) -> dict:
    """Curves of one log; ``loss_h`` and ``valid_h`` are the x values: hours trained, or steps if ``by_step``."""
    from nsc.train.curves import codebook_mels, hours_trained, loss_records, valid_points

    x = (lambda step: step) if by_step else (lambda step: hours_trained(records, step))
    losses = loss_records(records)
    valid = valid_points(records)
    counts = sorted({int(k.split("@")[1]) for p in valid for k in p["valid"] if k.startswith("pesq@")})
    return {
        "loss_h": [x(r["step"]) for r in losses],
        "mel": [r.get("mel", math.nan) for r in losses],
        "valid_h": [x(p["step"]) for p in valid],
        "steps": [p["step"] for p in valid],
        "counts": counts,
        "pesq": {n: [p["valid"].get(f"pesq@{n}", math.nan) for p in valid] for n in counts},
        "stoi": {n: [p["valid"].get(f"stoi@{n}", math.nan) for p in valid] for n in counts},
        "mels": [codebook_mels(p["valid"]) for p in valid],
    }


def parse_trial(text: str) -> tuple[str, Path, int, str]:
    """``CODEC=RUNDIR@FROM_STEP:LABEL`` -> (codec, run dir, from step, label).

    Raises:
        ValueError: the text does not have that form.
    """
    try:
        codec, rest = text.split("=", 1)
        where, label = rest.split(":", 1)
        run, from_step = where.rsplit("@", 1)
        return codec.strip(), Path(run), int(from_step), label.strip()
    except ValueError:
        raise ValueError(f"--trial {text!r}: expected CODEC=RUNDIR@FROM_STEP:LABEL") from None


def _trial_series(records: list[dict], main: list[dict], from_step: int) -> dict:
    """A trial's series on the main run's axes: steps shifted if they restart, hours offset."""
    from nsc.train.curves import hours_trained

    s = _series(records)
    first = min((r["step"] for r in records), default=0)
    shift = from_step if first < from_step else 0
    offset = hours_trained(main, from_step)
    s["steps"] = [st + shift for st in s["steps"]]
    s["loss_h"] = [h + offset for h in s["loss_h"]]
    s["valid_h"] = [h + offset for h in s["valid_h"]]
    return s


def _references(summary: dict | None, codec: str) -> list[dict]:
    """Baselines at the codec's sample rate and the codec's own rows (for the table), from an eval summary."""
    if not summary:
        return []
    mine = [s for s in summary["summary"] if s["codec"] == codec]
    if not mine:
        return []
    rate = mine[0]["sample_rate"]
    return [s for s in summary["summary"] if s["sample_rate"] == rate and (s["kind"] == "baseline" or s["codec"] == codec)]


def _smooth(values: list[float], width: int = 9) -> list[float]:
    out = []
    for i in range(len(values)):
        window = [v for v in values[max(0, i - width // 2) : i + width // 2 + 1] if math.isfinite(v)]
        out.append(sum(window) / len(window) if window else math.nan)
    return out


def _table(s: dict, hours: bool = True) -> list[str]:
    head = ["step"] + (["hours"] if hours else []) + [f"{m}@{n}" for m in ("pesq", "stoi") for n in s["counts"]]
    has_mels = any(s["mels"])
    head += ["mel loss at 1, 2, ... codebooks"] if has_mels else []
    md = ["| " + " | ".join(head) + " |\n|" + "---|" * len(head)]
    for i, step in enumerate(s["steps"]):
        cells = [str(step)] + ([f"{s['valid_h'][i]:.2f}"] if hours else [])
        cells += [f"{s[m][n][i]:.3f}" for m in ("pesq", "stoi") for n in s["counts"]]
        if has_mels:
            cells.append(" / ".join(f"{v:.2f}" for _, v in s["mels"][i]) or "–")
        md.append("| " + " | ".join(cells) + " |")
    return md


def plot(codecs: list[str], runs: Path, summary: dict | None, out: Path,
         trials: list[tuple[str, Path, int, str]] = (), lineage: Path | None = None) -> tuple[Path, Path]:
    """Write ``out.png`` and ``out.md``; returns their paths.

    ``trials``: (codec, run dir, from step, label) side runs, see the module docstring.
    ``lineage``: read ``lineage/<codec>.jsonl`` instead of ``runs/<codec>/log.jsonl`` and draw
    against steps (the lineage's early runs kept no wall-clock time).

    Raises:
        FileNotFoundError: a codec has no log, or a trial's run dir no log.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    from nsc.train.curves import read_log, valid_subset

    fig, axes = plt.subplots(len(codecs), 3, figsize=(13, 3.4 * len(codecs)), squeeze=False)
    md = []
    for row, codec in zip(axes, codecs):
        log = lineage / f"{codec}.jsonl" if lineage else runs / codec / "log.jsonl"
        if not log.exists():
            raise FileNotFoundError(f"{log} not found")
        main = read_log(log)
        s = _series(main, by_step=lineage is not None)
        subset = valid_subset(main)  # e.g. "first 8 s of 8 files"; "" for logs that do not say
        refs = _references(summary, codec)
        mine = []
        for t_codec, run, from_step, label in trials:
            if t_codec == codec:
                if not (run / "log.jsonl").exists():
                    raise FileNotFoundError(f"{run / 'log.jsonl'} not found")
                mine.append((label, from_step, _trial_series(read_log(run / "log.jsonl"), main, from_step)))
        row[0].plot(s["loss_h"], _smooth(s["mel"]), color="tab:blue", label="main run")
        for label, _, t in mine:
            row[0].plot(t["loss_h"], _smooth(t["mel"]), label=label)
        if mine:
            row[0].legend(fontsize=7, loc="upper right")
        row[0].set_title(f"{codec}: training mel loss")
        for metric, ax in (("pesq", row[1]), ("stoi", row[2])):
            for n in s["counts"]:
                ax.plot(s["valid_h"], s[metric][n], marker="o", label=f"{n} codebooks" + (f" ({subset})" if subset else ""))
            for label, _, t in mine:
                n = t["counts"][0] if t["counts"] else None
                if n is not None:
                    ax.plot(t["valid_h"], t[metric][n], marker="x", label=f"{label}, {n} codebooks")
            for r in refs:
                if r.get(metric) is not None and r["kind"] == "baseline":
                    ax.axhline(r[metric], linestyle="--", color="black", lw=0.8)
                    ax.annotate(r["system"], (0, r[metric]), xycoords=("axes fraction", "data"), fontsize=7,
                                va="bottom")
            mode = f"-{refs[0]['pesq_mode'].upper()}" if metric == "pesq" and refs else ""
            ax.set_title(f"{codec}: {metric.upper()}{mode}")
            ax.legend(fontsize=7, loc="lower right")
        for ax in row:
            ax.set_xlabel("training step" if lineage else "hours trained (1 CPU thread)")
            if lineage:
                ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v / 1000:g}k"))
            ax.grid(alpha=0.3)
        md.append(f"### {codec}\n")
        md += _table(s, hours=not lineage)
        for label, from_step, t in mine:
            md.append(f"\n**Trial: {label}** (from step {from_step}; hours include the main run's up to there)\n")
            md += _table(t)
        if refs:
            md.append("\nWhole valid split (`nsc eval`): " + "; ".join(
                f"{r['system']} PESQ {r['pesq']:.2f} STOI {r['stoi']:.3f}" for r in refs))
        md.append("")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    png, text = out.with_suffix(".png"), out.with_suffix(".md")
    fig.savefig(png, dpi=110)
    plt.close(fig)
    source = (f"`benchmarks/training_curves.py --lineage {lineage.name}`: the lineage of the shipped weights, "
              "against training steps (the early runs' wall-clock time is lost; the model cards give the hours)"
              if lineage else "`benchmarks/training_curves.py`")
    text.write_text(f"# Training curves\n\nGenerated by {source}.\n\n" + "\n".join(md))
    return png, text


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=Path, default=ROOT / "runs")
    p.add_argument("--codecs", default="mscacodec-nb,mscacodec-wb")
    p.add_argument("--eval", type=Path, default=ROOT / "benchmarks" / "results" / "eval-valid" / "summary.json")
    p.add_argument("--out", type=Path, help="output stem (default: benchmarks/results/training-curves, "
                   "or training-lineage with --lineage)")
    p.add_argument("--lineage", type=Path, metavar="DIR",
                   help="read DIR/<codec>.jsonl (the shipped weights' lineage) and draw against steps")
    p.add_argument("--trial", action="append", default=[], metavar="CODEC=RUNDIR@FROM_STEP:LABEL",
                   help="a side run drawn against the codec's main run (repeatable)")
    a = p.parse_args()
    try:
        trials = [parse_trial(t) for t in a.trial]
    except ValueError as e:
        p.error(str(e))
    summary = json.loads(a.eval.read_text()) if a.eval.exists() else None
    a.out = a.out or ROOT / "benchmarks" / "results" / ("training-lineage" if a.lineage else "training-curves")
    for path in plot([c.strip() for c in a.codecs.split(",") if c.strip()], a.runs, summary, a.out, trials, a.lineage):
        print(path)


if __name__ == "__main__":
    main()
