"""README's quality and speed figures are exactly the generated result files."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


def _module():
    spec = importlib.util.spec_from_file_location("update_readme", ROOT / "benchmarks" / "update_readme.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("name", ["eval-table", "bench-table", "ablation-table", "voicing-table"])
def test_readme_block_equals_generated_results(name):
    mod = _module()
    if not mod.BLOCKS[name].exists():
        pytest.skip(f"{mod.BLOCKS[name]} not generated yet")
    readme = (ROOT / "README.md").read_text()
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    assert begin in readme and end in readme
    assert readme.split(begin, 1)[1].split(end, 1)[0].strip() == mod.block_text(name)


def test_readme_plots_exist():
    readme = (ROOT / "README.md").read_text()
    for png in ("quality_vs_bitrate.png", "spectrograms.png"):
        if png in readme:
            assert (ROOT / "benchmarks" / "results" / "eval-valid" / png).exists()
