"""Smoke tests of benchmarks/bench_codecs.py: tiny sizes, exit status and table headings only (no timings)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "bench_codecs.py"


def run_bench(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=600)


def test_bench_codecs_smoke(tmp_path):
    md = tmp_path / "bench.md"
    proc = run_bench("--codecs", "mscacodec-nb", "--seconds", "2", "--files", "3", "--quick",
                     "--hour-seconds", "3", "--workdir", str(tmp_path / "work"), "--markdown", str(md))
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    for heading in ["== Speed, one 2 s file", "== Folder throughput: nsc encode DIR -o OUT, 3 files",
                    "== Peak resident memory, 3 s file", "== GPU batch throughput"]:
        assert heading in out, heading
    assert out.count("machine: ") >= 5  # the run, then each table
    assert "mscacodec-nb" in out and "batch size" in out and "encode MiB" in out
    if shutil.which("c2enc") and shutil.which("opusenc"):
        assert "Codec2 1200" in out and "Opus 8 kbit/s" in out and "== Speed ratio, nsc / baseline" in out
    if not torch.cuda.is_available():
        assert "no GPU on this machine" in out
    text = md.read_text()
    assert "### Folder throughput" in text and "| codec | batch size |" in text


def test_bench_codecs_unknown_codec():
    proc = run_bench("--codecs", "no-such-codec")
    assert proc.returncode == 2 and "unknown codec" in proc.stderr
