"""`nsc models`, `--version`, and the README codec table generated from the registry."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from conftest import run_nsc

import nsc as nsc_pkg

ROOT = Path(__file__).resolve().parents[1]


def test_models_table_lists_registry():
    r = run_nsc("models")
    assert r.exit_code == 0
    for name in ["mscacodec-nb", "mscacodec-wb", "hificodec-16k", "srcodec-16k", "test-tiny"]:
        assert name in r.stdout
    assert "1.2" in r.stdout and "8 kHz" in r.stdout


def test_models_markdown_and_card(tmp_path, monkeypatch):
    from nsc.cli import models

    monkeypatch.setattr("nsc.weights.WEIGHTS_DIR", tmp_path)
    (tmp_path / "test-tiny.md").write_text("# test-tiny\n\nA tiny codec\nfor tests.\n\nMore text.\n")
    assert models.model_card_summary("test-tiny") == "A tiny codec for tests."
    r = run_nsc("models", "--markdown")
    assert r.exit_code == 0
    row = next(line for line in r.stdout.splitlines() if "`test-tiny`" in line)
    assert row.startswith("| `test-tiny` | 250 | 8000 Hz | 0.4, 0.8, 1.2 |") and "A tiny codec for tests." in row


def test_version():
    r = run_nsc("--version")
    assert r.exit_code == 0 and r.stdout.strip() == f"nsc {nsc_pkg.__version__}"


def test_readme_codec_table_is_generated():
    """The README's table equals `nsc models --markdown` run on the shipped registry (no test codecs)."""
    env = {k: v for k, v in os.environ.items() if k != "NSC_WEIGHTS_DIR"}
    out = subprocess.run([sys.executable, "-m", "nsc", "models", "--markdown"], capture_output=True, text=True,
                         env=env, cwd=ROOT, check=True).stdout
    readme = (ROOT / "README.md").read_text()
    m = re.search(r"<!-- codec-table:begin -->\n(.*?)<!-- codec-table:end -->", readme, re.S)
    assert m, "README.md lacks the codec-table markers"
    assert m.group(1) == out, "README codec table is stale: regenerate it with `nsc models --markdown`"
