"""Paired per-file comparison of two `nsc eval` runs: did the candidate score higher on the same files?

    python benchmarks/paired.py BASE/scores.csv CANDIDATE/scores.csv [--systems "mscacodec-nb 1.2k,..."]

Rows are matched on (file, system); for each system and metric (PESQ, STOI,
ViSQOL, LSD) it prints the mean of candidate - base, its paired t statistic
(mean / standard error of the per-file differences) and on how many files the
candidate was better (higher, or lower for LSD). This is the test the README's
fine-tune rounds table reports, and the rule its weights ship by: PESQ and
STOI up, ViSQOL not down by more than the noise (|t| < 2).
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
from pathlib import Path

#: Metrics compared, and whether higher is better.
METRICS = {"pesq": True, "stoi": True, "visqol": True, "lsd_db": False}


def read_scores(path: Path) -> dict[tuple[str, str], dict[str, float]]:
    """``scores.csv`` of ``nsc eval`` -> ``{(file, system): {metric: value}}`` (NaN where a metric is empty)."""
    out = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            out[(row["file"], row["system"])] = {m: float(row[m]) if row.get(m) not in (None, "") else math.nan
                                                 for m in METRICS}
    return out


def paired(base: dict, cand: dict, system: str, metric: str) -> tuple[float, float, int, int] | None:
    """(mean difference, t, files better, files compared) of ``metric`` for ``system``, or None if nothing pairs.

    t is NaN for fewer than 2 files or identical differences.
    """
    higher = METRICS[metric]
    diffs = []
    for key, scores in cand.items():
        if key[1] != system or key not in base:
            continue
        a, b = base[key][metric], scores[metric]
        if math.isfinite(a) and math.isfinite(b):
            diffs.append(b - a)
    if not diffs:
        return None
    n = len(diffs)
    mean = sum(diffs) / n
    var = sum((d - mean) ** 2 for d in diffs) / (n - 1) if n > 1 else math.nan
    t = mean / math.sqrt(var / n) if n > 1 and var > 0 else math.nan
    better = sum(1 for d in diffs if (d > 0 if higher else d < 0))
    return mean, t, better, n


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("base", type=Path, help="scores.csv of the reference run")
    p.add_argument("candidate", type=Path, help="scores.csv of the run under test")
    p.add_argument("--systems", help="comma-separated system names (default: every system both runs scored)")
    args = p.parse_args(argv)
    try:
        base, cand = read_scores(args.base), read_scores(args.candidate)
    except (OSError, KeyError, ValueError) as exc:
        print(f"paired: error: cannot read scores ({exc})", file=sys.stderr)
        return 2
    systems = args.systems.split(",") if args.systems else sorted({s for _, s in cand} & {s for _, s in base})
    if not systems:
        print("paired: error: the two runs scored no system in common", file=sys.stderr)
        return 2
    print("| system | files | " + " | ".join(f"Δ{m} (t, better on)" for m in METRICS) + " |")
    print("|---|---:|" + "---|" * len(METRICS))
    for system in systems:
        cells, n_files = [], 0
        for metric in METRICS:
            r = paired(base, cand, system, metric)
            if r is None:
                cells.append("–")
                continue
            mean, t, better, n = r
            n_files = max(n_files, n)
            cells.append(f"{mean:+.3f} ({t:.1f}, {better}/{n})" if math.isfinite(t) else f"{mean:+.3f} ({better}/{n})")
        print(f"| {system} | {n_files} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
