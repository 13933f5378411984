"""Reports of an :class:`~nsc.eval.runner.EvalResult`: CSV, Markdown, JSON, Rich tables, PNG plots.

Files written by :func:`write_reports` into the output folder:

- ``scores.csv``: one row per file and system (every :class:`FileScore` field).
- ``summary.md``: the summary and codebook-usage tables, with notes.
- ``summary.json``: everything, rows included (NaN as null).
- ``quality_vs_bitrate.png``: PESQ and STOI against payload bitrate, one line per codec
  (solid: 8 kHz, narrowband PESQ; dashed: 16 kHz, wideband PESQ).
- ``spectrograms.png``: the example file's reference and each codec's output, stacked.

Plots use matplotlib's Agg backend (no display needed).
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import asdict, fields
from pathlib import Path

import numpy as np

from .runner import EvalResult, FileScore

__all__ = [
    "write_reports",
    "write_csv",
    "write_json",
    "write_markdown",
    "summary_table",
    "usage_table",
    "plot_quality",
    "plot_spectrograms",
]


def _fmt(v, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


_SUMMARY_COLUMNS = [
    ("system", "system", None),
    ("rate", "sample_rate", None),
    ("nominal kbps", "nominal_kbps", 3),
    ("payload kbps", "payload_kbps", 3),
    ("file kbps", "file_kbps", 3),
    ("PESQ", "pesq", 2),
    ("STOI", "stoi", 3),
    ("ViSQOL", "visqol", 2),
    ("LSD dB", "lsd_db", 2),
    ("enc xRT", "encode_xrt", 0),
    ("dec xRT", "decode_xrt", 0),
    ("files", "n_files", None),
]


def _summary_cells(s) -> list[str]:
    cells = []
    for _, attr, digits in _SUMMARY_COLUMNS:
        v = getattr(s, attr)
        if attr == "sample_rate":
            cells.append(f"{v // 1000} kHz")
        elif attr == "pesq" and isinstance(v, float) and math.isfinite(v):
            cells.append(f"{v:.2f} {s.pesq_mode.upper()}")
        elif attr == "n_files" and s.n_failed:
            cells.append(f"{v} ({s.n_failed} failed)")
        else:
            cells.append(_fmt(v, digits) if digits is not None else str(v))
    return cells


_TERMINAL_COLUMNS = [
    ("system", "system"),
    ("kHz", "sample_rate"),
    ("payload", "payload_kbps"),
    ("file", "file_kbps"),
    ("PESQ", "pesq"),
    ("STOI", "stoi"),
    ("ViSQOL", "visqol"),
    ("LSD", "lsd_db"),
    ("enc×", "encode_xrt"),
    ("dec×", "decode_xrt"),
    ("files", "n_files"),
]


def summary_table(result: EvalResult):
    """A compact Rich table of the per-system summary (sorted by rate, codec, bitrate)."""
    from rich import box
    from rich.table import Table

    n = len(result.files)
    dur = sum({r.file: r.duration_s for r in result.rows}.values())
    table = Table(
        title=f"nsc eval: {n} file{'s' * (n != 1)}, {dur:.1f} s",
        title_justify="left",
        caption="system: codec and nominal rate. payload, file: kbit/s. PESQ NB at 8 kHz, WB at 16 kHz. LSD in dB. "
        "enc×/dec×: times real time.",
        caption_justify="left",
        box=box.SIMPLE_HEAD,
        padding=(0, 0),
        show_edge=False,
    )
    for header, _ in _TERMINAL_COLUMNS:
        if header == "system":
            table.add_column(header, no_wrap=True)
        else:
            table.add_column(header, justify="right", no_wrap=True)
    for s in _sorted(result.summaries):
        files = f"[red]{s.n_files}/{s.n_files + s.n_failed}[/]" if s.n_failed else str(s.n_files)
        table.add_row(
            s.system,
            f"{s.sample_rate / 1000:g}",
            _fmt(s.payload_kbps, 3),
            _fmt(s.file_kbps, 3),
            _fmt(s.pesq, 2),
            _fmt(s.stoi, 3),
            _fmt(s.visqol, 2),
            _fmt(s.lsd_db, 1),
            _fmt(s.encode_xrt, 0),
            _fmt(s.decode_xrt, 0),
            files,
        )
    return table


def usage_table(result: EvalResult):
    """A Rich table of codebook usage per VQ system, or None when there is none."""
    from rich.table import Table

    if not result.codebook_usage:
        return None
    from rich import box

    table = Table(title="codebook usage (utilisation = entries used / size; perplexity = exp(entropy))",
                  title_justify="left", box=box.SIMPLE_HEAD, padding=(0, 0), show_edge=False)  # fmt: skip
    for h in ("system", "codebook", "size", "used", "utilisation", "perplexity", "bits/index"):
        table.add_column(h, justify="left" if h == "system" else "right")
    for name, usages in result.codebook_usage.items():
        for u in usages:
            table.add_row(name, str(u.index), str(u.size), str(u.n_used), f"{u.utilisation:.3f}",
                          f"{u.perplexity:.1f}", f"{u.entropy_bits:.2f}")  # fmt: skip
    return table


def _sorted(summaries):
    return sorted(summaries, key=lambda s: (s.sample_rate, s.kind != "nsc", s.codec, s.nominal_kbps))


def write_csv(rows: list[FileScore], path: Path) -> Path:
    """One row per (file, system), columns = :class:`FileScore` fields (NaN written empty)."""
    names = [f.name for f in fields(FileScore)]
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=names)
        w.writeheader()
        for r in rows:
            d = asdict(r)
            w.writerow({k: ("" if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()})
    return path


def write_json(result: EvalResult, path: Path) -> Path:
    """Everything in :meth:`EvalResult.to_dict`, indented."""
    path.write_text(json.dumps(result.to_dict(), indent=2) + "\n")
    return path


def write_markdown(result: EvalResult, path: Path) -> Path:
    """Summary and codebook-usage tables as GitHub Markdown, with the notes."""
    lines = [f"# nsc eval: {len(result.files)} files", ""]
    lines.append("| " + " | ".join(h for h, _, _ in _SUMMARY_COLUMNS) + " |")
    lines.append("|" + "|".join("---" for _ in _SUMMARY_COLUMNS) + "|")
    for s in _sorted(result.summaries):
        lines.append("| " + " | ".join(_summary_cells(s)) + " |")
    lines += [
        "",
        "PESQ: ITU-T P.862 narrowband (NB) at 8 kHz, P.862.2 wideband (WB) at 16 kHz; "
        "scores of different rates are not comparable. STOI: Taal et al. 2011. "
        f"ViSQOL: v3 speech mode ({result.visqol or 'not run'}). "
        "LSD: log-spectral distance, 32 ms Hann, 8 ms hop. "
        "Bitrates: total bits over total duration; payload excludes headers and framing. "
        "xRT: audio duration over processing time, one process.",
    ]
    if result.codebook_usage:
        lines += ["", "## Codebook usage", "", "| system | codebook | size | used | utilisation | perplexity | bits/index |",
                  "|---|---|---|---|---|---|---|"]  # fmt: skip
        for name, usages in result.codebook_usage.items():
            for u in usages:
                lines.append(f"| {name} | {u.index} | {u.size} | {u.n_used} | {u.utilisation:.3f} | "
                             f"{u.perplexity:.1f} | {u.entropy_bits:.2f} |")  # fmt: skip
    if result.notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in result.notes]
    path.write_text("\n".join(lines) + "\n")
    return path


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def plot_quality(result: EvalResult, path: Path) -> Path:
    """PESQ and STOI against payload bitrate (log axis), one line per codec and rate."""
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    lines: dict[tuple[str, int], list] = {}
    for s in result.summaries:
        lines.setdefault((s.codec, s.sample_rate), []).append(s)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, ((codec, rate), items) in enumerate(sorted(lines.items(), key=lambda kv: (kv[0][1], kv[0][0]))):
        items = sorted(items, key=lambda s: s.payload_kbps)
        x = [s.payload_kbps for s in items]
        style = "-" if rate == 8000 else "--"
        label = f"{codec} ({rate // 1000} kHz)"
        for ax, attr in zip(axes, ("pesq", "stoi")):
            y = [getattr(s, attr) for s in items]
            ax.plot(x, y, style, marker="o", color=colours[i % len(colours)], label=label)
    axes[0].set_ylabel("PESQ MOS-LQO (NB at 8 kHz, WB at 16 kHz)")
    axes[1].set_ylabel("STOI")
    for ax, title in zip(axes, ("PESQ", "STOI")):
        ax.set_xscale("log")
        ax.set_xlabel("payload bitrate (kbit/s)")
        n = len(result.files)
        ax.set_title(f"{title} vs bitrate ({n} file{'s' * (n != 1)})")
        ax.grid(True, which="both", alpha=0.3)
        ticks = []
        for t in sorted({round(s.nominal_kbps, 3) for s in result.summaries if s.nominal_kbps > 0}):
            if not ticks or math.log(t / ticks[-1]) > 0.12:  # keep labels apart on the log axis
                ticks.append(t)
        if ticks and len(ticks) <= 14:
            ax.set_xticks(ticks)
            ax.set_xticklabels([f"{t:g}" for t in ticks], rotation=45, fontsize=7)
            ax.minorticks_off()
    axes[1].legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_spectrograms(result: EvalResult, path: Path, max_seconds: float = 6.0) -> Path | None:
    """Spectrograms (dB, 32 ms Hann, 8 ms hop) of the example's reference and each codec's output.

    Returns None when there is nothing to show.
    """
    ex = result.example or {}
    refs: dict[int, np.ndarray] = ex.get("reference") or {}
    systems: dict = ex.get("systems") or {}
    if not refs:
        return None
    plt = _plt()
    from scipy.signal import stft

    ref_rate = max(refs)
    panels = [(f"reference ({ref_rate // 1000} kHz)", ref_rate, refs[ref_rate])]
    order = sorted(systems.items(), key=lambda kv: (kv[1][1], kv[0]))
    panels += [(name, rate, audio) for name, (_, rate, audio) in order]
    fig, axes = plt.subplots(len(panels), 1, figsize=(10, 1.7 * len(panels) + 0.6), sharex=True, squeeze=False)
    for ax, (title, rate, audio) in zip(axes[:, 0], panels):
        x = np.asarray(audio, dtype=np.float64)[: int(max_seconds * rate)]
        n = int(0.032 * rate)
        f, t, z = stft(x, fs=rate, window="hann", nperseg=n, noverlap=n - int(0.008 * rate))
        db = 20 * np.log10(np.abs(z) + 1e-6)
        ax.pcolormesh(t, f / 1000.0, db, shading="auto", cmap="magma", vmin=-100, vmax=-10)
        ax.set_ylim(0, ref_rate / 2000.0)
        ax.set_ylabel("kHz")
        ax.set_title(title, fontsize=9, loc="left")
    axes[-1, 0].set_xlabel("time (s)")
    fig.suptitle(Path(ex.get("file", "")).name, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def write_reports(result: EvalResult, out_dir: Path) -> dict[str, Path]:
    """Write every report into ``out_dir`` (created); returns the paths by kind."""
    out_dir.mkdir(parents=True, exist_ok=True)
    outputs = {
        "csv": write_csv(result.rows, out_dir / "scores.csv"),
        "markdown": write_markdown(result, out_dir / "summary.md"),
    }
    if result.rows:
        outputs["quality_plot"] = plot_quality(result, out_dir / "quality_vs_bitrate.png")
        spec = plot_spectrograms(result, out_dir / "spectrograms.png")
        if spec is not None:
            outputs["spectrogram_plot"] = spec
    result.outputs = outputs
    outputs["json"] = out_dir / "summary.json"
    write_json(result, outputs["json"])
    return outputs
