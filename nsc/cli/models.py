"""`nsc models [--markdown]`: the codec registry as a table.

``nsc models --markdown`` (or ``python -m nsc models --markdown``) prints the README's codec table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ._util import cli_errors, out_console

__all__ = ["models_cli", "model_rows", "markdown_table", "model_card_summary"]


def model_card_summary(name: str) -> str | None:
    """First paragraph of the model card ``nsc/weights/<name>.md`` (headings skipped), or None."""
    from ..weights import WEIGHTS_DIR

    card = WEIGHTS_DIR / f"{name}.md"
    if not card.exists():
        return None
    paragraph: list[str] = []
    for line in card.read_text(encoding="utf-8").splitlines():
        s = line.strip()
        if s.startswith("#") and not paragraph:
            continue
        if not s:
            if paragraph:
                break
            continue
        paragraph.append(s)
    return " ".join(paragraph) or None


def _count_parameters(spec) -> int | None:
    """Trainable parameters of the shipped model (from ``manifest.json``), else of the default config.

    Codebooks learnt by EMA are buffers, not parameters, and are not counted.
    """
    from ..weights import read_manifest

    listed = read_manifest().get(spec.weights, {}).get("parameters")
    if listed:
        return int(listed)
    try:
        from ..codec import build_model

        return sum(p.numel() for p in build_model(spec).parameters())
    except Exception:  # noqa: BLE001 - a family not implemented yet
        return None


def _fmt_params(n: int | None) -> str:
    if n is None:
        return "-"
    return f"{n / 1e6:.2f} M" if n >= 1e5 else f"{n / 1e3:.1f} k"


def model_rows() -> list[dict]:
    """One dict per registered codec: name, wire_id, sample_rate (Hz), bitrates (kbit/s),
    parameters, weights (present or not), postfilter (decoding's default), beam_width (encoding's default
    quantizer search width), summary (model card's first paragraph,
    or the registry's line)."""
    from ..registry import CODECS
    from ..weights import weights_path

    rows = []
    for spec in sorted(CODECS.values(), key=lambda s: s.wire_id):
        rows.append({
            "name": spec.name,
            "wire_id": spec.wire_id,
            "sample_rate": spec.sample_rate,
            "bitrates_kbps": list(spec.bitrates_kbps),
            "parameters": _count_parameters(spec),
            "weights": weights_path(spec.weights).exists(),
            "postfilter": spec.postfilter,
            "beam_width": spec.beam_width,
            "summary": model_card_summary(spec.name) or spec.summary,
        })
    return rows


def _bitrates(row: dict) -> str:
    return ", ".join(f"{b:g}" for b in row["bitrates_kbps"])


def markdown_table(rows: list[dict] | None = None) -> str:
    """The codec table in GitHub Markdown (the README embeds this text verbatim)."""
    rows = model_rows() if rows is None else rows
    lines = [
        "| codec | wire id | sample rate | bitrates (kbit/s) | parameters | trained weights | postfilter | beam width | summary |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        summary = r["summary"].replace("|", "\\|")
        lines.append(
            f"| `{r['name']}` | {r['wire_id']} | {r['sample_rate']} Hz | {_bitrates(r)} | "
            f"{_fmt_params(r['parameters'])} | {'yes' if r['weights'] else 'no'} | {'on' if r['postfilter'] else 'off'} "
            f"| {r['beam_width']} | {summary} |"
        )
    return "\n".join(lines) + "\n"


def models_cli(
    markdown: Annotated[bool, typer.Option("--markdown", help="Print a Markdown table (as in the README).")] = False,
) -> None:
    """List the codecs: wire id, sample rate, bitrates, parameters, whether trained weights are installed,
    whether decoding applies the postfilter by default, and encoding's quantizer search width (beam)."""
    with cli_errors():
        rows = model_rows()
        if markdown:
            out_console.out(markdown_table(rows), end="")
            return
        t = Table(title="nsc codecs", title_justify="left")
        for col in ("codec", "wire id", "rate", "kbit/s", "params", "weights", "postfilter", "beam"):
            t.add_column(col, no_wrap=col not in ("wire id", "kbit/s"), min_width={"kbit/s": 9, "wire id": 4}.get(col))
        t.add_column("summary", overflow="fold", min_width=16)
        for r in rows:
            t.add_row(r["name"], str(r["wire_id"]), f"{r['sample_rate'] // 1000} kHz", _bitrates(r),
                      _fmt_params(r["parameters"]), "[green]yes[/]" if r["weights"] else "[yellow]no[/]",
                      "on" if r["postfilter"] else "off", str(r["beam_width"]), r["summary"])
        out_console.print(t)


if __name__ == "__main__":  # pragma: no cover - `python -m nsc.cli.models --markdown` works too
    typer.run(models_cli)
