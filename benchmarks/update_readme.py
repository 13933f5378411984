"""Copy generated figures into README.md (no figure typed by hand).

    python benchmarks/update_readme.py

Takes the summary table of ``benchmarks/results/eval-valid/summary.md`` (written
by the ``nsc eval`` command the README shows) and ``benchmarks/results/bench-codecs.md``
(written by ``bench_codecs.py --markdown``) and ``benchmarks/results/ablation/table.md``
(written by ``benchmarks/ablation.py``) and ``benchmarks/results/voicing.md``
(written by ``benchmarks/voicing.py --markdown``) and puts each between its markers in
README.md; a block whose file is not generated yet is left as it is. The
Codecs section's table is refreshed from ``nsc models --markdown``. ``tests/test_readme_results.py`` checks the two stay equal.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
BLOCKS = {
    "eval-table": RESULTS / "eval-valid" / "summary.md",
    "bench-table": RESULTS / "bench-codecs.md",
    "ablation-table": RESULTS / "ablation" / "table.md",
    "voicing-table": RESULTS / "voicing.md",
}


def block_text(name: str) -> str:
    """The generated text that belongs between ``<!-- NAME:begin -->`` and ``<!-- NAME:end -->``."""
    text = BLOCKS[name].read_text().strip()
    if name == "eval-table":  # the summary table and its legend, without the file's own title
        text = re.sub(r"^# .*\n+", "", text)
        text = text.split("\n## ")[0].strip()
    return text


def codec_table() -> str:
    """``nsc models --markdown`` for the shipped registry and weights (``NSC_WEIGHTS_DIR`` ignored)."""
    import os

    from nsc.cli.models import markdown_table

    saved = os.environ.pop("NSC_WEIGHTS_DIR", None)
    try:
        return markdown_table()
    finally:
        if saved is not None:
            os.environ["NSC_WEIGHTS_DIR"] = saved


def update(readme: Path = ROOT / "README.md") -> None:
    """Rewrite every generated block of ``readme`` in place (and the codec table of the Codecs section)."""
    text = readme.read_text()
    head, rest = text.split("<!-- codec-table:begin -->\n", 1)
    text = f"{head}<!-- codec-table:begin -->\n{codec_table()}<!-- codec-table:end -->{rest.split('<!-- codec-table:end -->', 1)[1]}"
    for name, source in BLOCKS.items():
        if not source.exists():
            continue
        begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
        if begin not in text:
            raise SystemExit(f"README.md has no {begin} marker")
        head, rest = text.split(begin, 1)
        _, tail = rest.split(end, 1)
        text = f"{head}{begin}\n{block_text(name)}\n{end}{tail}"
    readme.write_text(text)


if __name__ == "__main__":
    update()
    print("README.md updated")
