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
    assert "decode 1 thr float32" in out and "--precision float32" in out
    if shutil.which("c2enc") and shutil.which("opusenc"):
        assert "Codec2 1200" in out and "Opus 8 kbit/s" in out and "== Speed ratio, nsc / baseline" in out
    if not torch.cuda.is_available():
        assert "no GPU on this machine" in out
    text = md.read_text()
    assert "### Folder throughput" in text and "| codec | batch size |" in text


def test_bench_codecs_unknown_codec():
    proc = run_bench("--codecs", "no-such-codec")
    assert proc.returncode == 2 and "unknown codec" in proc.stderr


def test_ablation_table_labels_each_quantizer_with_its_figures(tmp_path):
    import importlib.util
    import json

    spec = importlib.util.spec_from_file_location("ablation", Path(__file__).parents[1] / "benchmarks" / "ablation.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    rows = [{"system": f"{c} {k:g}k", "codec": c, "kind": "nsc", "payload_kbps": k, "pesq": 1.2 + i / 10,
             "stoi": 0.7 + i / 100, "visqol": None, "n_files": 47} for i, (_, c, _, k) in enumerate(mod.ARMS)]
    usage = {"srcodec-16k 0.95k": [{"size": 512, "utilisation": 0.5, "perplexity": 99.6},
                                   {"size": 1024, "utilisation": 1.0, "perplexity": 700.0}]}
    log = tmp_path / "ablation-srvq-0.95k" / "log.jsonl"
    log.parent.mkdir()
    log.write_text(json.dumps({"step": 125, "valid": {"pesq@2": 1.31, "stoi@2": 0.712}}) + "\n")
    text = mod.table({"summary": rows, "codebook_usage": usage}, tmp_path)
    lines = {line.split(" | ")[0]: line for line in text.splitlines() if line.startswith("| ")}
    assert "| RVQ, 2 x 1024 | 1.000 | 1.20 | 0.700 | - |" in text
    srvq = lines["| SRVQ 512 + 1024, dual attention"]
    assert "| 0.950 | 1.40 | 0.720 |" in srvq and "50 % / 100 of 512, 100 % / 700 of 1024" in srvq
    assert srvq.endswith("| 125: 1.31 / 0.712 |")
    assert "47 files" in text


def test_profile_blocks_names_the_blocks_that_take_the_time(tmp_path):
    md = tmp_path / "profile.md"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "profile_blocks.py"), "--codecs", "mscacodec-nb",
                           "--seconds", "1", "--markdown", str(md)], capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [line for line in md.read_text().splitlines() if line.startswith("| encoder[") or line.startswith("| decoder[")]
    shares = [float(r.split("|")[2].strip(" %")) for r in rows]
    assert any("MSRCAM" in r for r in rows) and any("TCGRU" in r for r in rows)
    assert 50 < sum(shares) <= 100.5 and shares == sorted(shares, reverse=True)
    assert "| encoder[1] FusedMSRCAM |" in md.read_text() and "| 8,000 |" in md.read_text()  # first block at 8 kHz


def _voicing_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("voicing", ROOT / "benchmarks" / "voicing.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_voicing_tells_a_harmonic_vowel_from_a_whispered_one():
    import numpy as np
    import pytest

    pytest.importorskip("parselmouth")
    voicing = _voicing_module()
    sr = 8000
    t = np.arange(2 * sr) / sr
    f0 = 120 + 20 * np.sin(2 * np.pi * 0.5 * t)  # a gliding pitch, like speech
    phase = 2 * np.pi * np.cumsum(f0) / sr
    vowel = sum(np.sin(k * phase) / k for k in range(1, 30)).astype(np.float32) * 0.1
    rng = np.random.default_rng(0)
    whisper = (rng.standard_normal(len(t)) * np.std(vowel)).astype(np.float32)

    n, kept, hnr = voicing.voicing_scores(vowel, vowel, sr)
    assert n > 150 and kept == n and hnr / n > 20  # a clean periodic signal: voiced throughout, high HNR
    n2, kept2, hnr2 = voicing.voicing_scores(vowel, whisper, sr)
    assert n2 == n and hnr2 / n2 < 3 and hnr2 / n2 < hnr / n - 15  # the same frames as noise: HNR collapses

    pitched, cents = voicing.pitch_scores(vowel, vowel, sr)
    assert pitched > 80 and len(cents) == pitched and np.median(cents) < 1  # 2 s at 20 ms steps, pitch found
    _, cents_up = voicing.pitch_scores(vowel, np.interp(t * 2 ** (2 / 12), t, vowel).astype(np.float32), sr)
    assert 150 < np.median(cents_up) < 250  # the vowel two semitones higher (and faster): 200 cents
    _, cents_noise = voicing.pitch_scores(vowel, whisper, sr)
    assert len(cents_noise) < pitched / 4  # noise has (almost) no pitch


def test_paired_reports_mean_difference_t_and_wins(tmp_path):
    header = "file,system,pesq,stoi,visqol,lsd_db\n"
    base = tmp_path / "base.csv"
    cand = tmp_path / "cand.csv"
    base.write_text(header + "a,s 1k,2.0,0.80,2.0,7.0\nb,s 1k,2.2,0.82,,7.0\nc,s 1k,1.8,0.78,2.0,7.0\nd,t 2k,1.0,0.5,1.0,9.0\n")
    cand.write_text(header + "a,s 1k,2.1,0.80,2.0,6.0\nb,s 1k,2.4,0.82,2.5,7.0\nc,s 1k,1.8,0.78,2.0,6.0\n")
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "paired.py"), str(base), str(cand)],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 0, proc.stderr
    row = next(line for line in proc.stdout.splitlines() if line.startswith("| s 1k |"))
    # PESQ diffs 0.1, 0.2, 0.0: mean 0.1, sd 0.1, t = 0.1 / (0.1 / sqrt 3) = 1.7; better on 2 of 3
    # ViSQOL: file b has no base score, so 2 pairs, both 0; LSD falls on 2 of 3 (better)
    assert row == "| s 1k | 3 | +0.100 (1.7, 2/3) | +0.000 (0/3) | +0.000 (0/2) | -0.667 (-2.0, 2/3) |"
    assert "t 2k" not in proc.stdout  # scored by one run only
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "paired.py"), str(base), str(tmp_path / "no.csv")],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
