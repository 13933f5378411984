"""`nsc eval` end to end on synthetic speech with the tiny codec, and the runner's planning rules."""

from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from nsc.cli import app
from nsc.errors import WeightsError
from nsc.eval import evaluate
from nsc.eval.runner import parse_baselines
from nsc.models.precision import native_bfloat16
from test_metrics import vowel

runner = CliRunner()
tools = pytest.mark.skipif(
    not all(shutil.which(t) for t in ("c2enc", "c2dec", "opusenc", "opusdec")), reason="codec2/opus-tools missing"
)


@pytest.fixture
def speech_dir(tmp_path):
    d = tmp_path / "refs"
    (d / "sub").mkdir(parents=True)
    sf.write(d / "a.wav", vowel(seconds=1.5, sample_rate=16000, seed=0), 16000)
    sf.write(d / "sub" / "b.flac", vowel(seconds=1.2, sample_rate=16000, seed=1), 16000)
    (d / "notes.txt").write_text("not audio")
    return d


@tools
def test_eval_cli_writes_every_report(speech_dir, tmp_path, tiny_weights):
    out = tmp_path / "out"
    res = runner.invoke(app, ["eval", str(speech_dir), "-c", "test-tiny", "-b", "1.2k", "-b", "0.4k",
                              "--baselines", "codec2:1200,opus:8", "--no-visqol", "--out", str(out)])  # fmt: skip
    assert res.exit_code == 0, res.output
    for name in ("scores.csv", "summary.md", "summary.json", "quality_vs_bitrate.png", "spectrograms.png"):
        assert (out / name).stat().st_size > 0, name
    with open(out / "scores.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 2 * 4  # 2 files x (tiny 0.4k, tiny 1.2k, codec2 1200, opus-nb 8k)
    assert {r["system"] for r in rows} == {"test-tiny 0.4k", "test-tiny 1.2k", "codec2 1200", "opus-nb 8k"}
    summary = json.loads((out / "summary.json").read_text())
    tiny = next(s for s in summary["summary"] if s["system"] == "test-tiny 1.2k")
    # .nsc files: payload = whole frames of 24 bits; file = payload + header + packet framing.
    assert tiny["payload_kbps"] == pytest.approx(1.2, abs=0.03) and tiny["file_kbps"] > tiny["payload_kbps"]
    usage = summary["codebook_usage"]["test-tiny 1.2k"]
    assert [u["size"] for u in usage] == [256, 256, 256]
    assert all(0 < u["utilisation"] <= 1 and 1 <= u["perplexity"] <= 256 for u in usage)
    md = (out / "summary.md").read_text()
    assert "| codec2 1200 |" in md and "Codebook usage" in md
    assert "codec2 1200" in res.stdout and "PESQ" in res.stdout


@tools
def test_eval_cli_json(speech_dir, tmp_path):
    res = runner.invoke(app, ["eval", str(speech_dir / "a.wav"), "-c", "none", "--baselines", "codec2:1200",
                              "--no-visqol", "--json", "-o", str(tmp_path / "o")])  # fmt: skip
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert [s["system"] for s in data["summary"]] == ["codec2 1200"]
    assert data["summary"][0]["pesq_mode"] == "nb" and data["summary"][0]["n_files"] == 1


@pytest.mark.parametrize(
    "args,needle",
    [
        (["-c", "no-such-codec"], "unknown codec"),
        (["--baselines", "mp3"], "unknown baseline"),
        (["--baselines", "codec2:999"], "unknown Codec2 mode"),
        (["-b", "fast"], "cannot read bitrate"),
        (["-c", "test-tiny", "-b", "64k", "--baselines", "none"], "offers none"),
        (["--weights", "test-tiny"], "CODEC=PATH"),
        (["--weights", "no-such-codec=x.safetensors"], "unknown codec"),
        (["--weights", "test-tiny=/no/such.safetensors"], "not found"),
    ],
)
def test_eval_cli_usage_errors_are_one_line(speech_dir, tmp_path, tiny_weights, args, needle):
    res = runner.invoke(app, ["eval", str(speech_dir), *args, "-o", str(tmp_path / "o"), "--no-visqol"])
    assert res.exit_code == 2, res.output
    assert needle in res.output and "Traceback" not in res.output


def test_eval_cli_weights_option_scores_a_checkpoint(speech_dir, tmp_path, _tiny_weights_dir, monkeypatch):
    monkeypatch.delenv("NSC_WEIGHTS_DIR", raising=False)  # no packaged test-tiny weights: only --weights has them
    ckpt = _tiny_weights_dir / "test-tiny.safetensors"
    res = runner.invoke(app, ["eval", str(speech_dir / "a.wav"), "-c", "test-tiny", "-b", "1.2k", "--baselines", "none",
                              "--no-visqol", "--json", "-o", str(tmp_path / "o"), "--weights", f"test-tiny={ckpt}"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert [s["system"] for s in data["summary"]] == ["test-tiny 1.2k"]
    assert any(str(ckpt) in note for note in data["notes"])
    res = runner.invoke(app, ["eval", str(speech_dir / "a.wav"), "-c", "test-tiny", "--baselines", "none",
                              "--no-visqol", "-o", str(tmp_path / "o2")])
    assert res.exit_code == 1 and "no trained weights" in res.output


def test_eval_cli_missing_input(tmp_path):
    res = runner.invoke(app, ["eval", str(tmp_path / "nothing-here")])
    assert res.exit_code == 2 and "no such file or folder" in res.output


def test_eval_cli_missing_tools_one_line(speech_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    res = runner.invoke(app, ["eval", str(speech_dir), "-c", "none", "--baselines", "codec2", "-o", str(tmp_path / "o")])
    assert res.exit_code == 1
    assert "apt-get install codec2" in res.output and "Traceback" not in res.output


def test_runner_default_codecs_skip_those_without_weights(speech_dir, tiny_codec):
    def loader(name, device="cpu"):
        if name == "test-tiny":
            return tiny_codec
        raise WeightsError(f"no trained weights for {name}")

    result = evaluate([speech_dir / "a.wav"], codecs=None, baselines="none", visqol=False, loader=loader)
    assert {s.system for s in result.summaries} == {"test-tiny 0.4k", "test-tiny 0.8k", "test-tiny 1.2k"}
    assert any(n.startswith("skipped mscacodec-nb") for n in result.notes)
    # nsc payload bits come from the .nsc bytes: whole frames x 8 bits per codebook, padded to a byte per packet.
    row = next(r for r in result.rows if r.system == "test-tiny 1.2k")
    frames = -(-int(row.duration_s * 8000) // 160)
    assert row.payload_bits == ((frames * 24 + 7) // 8) * 8
    assert row.file_bits > row.payload_bits


def test_parse_baselines():
    assert parse_baselines("codec2,opus") == [("codec2", None), ("opus", None)]
    assert parse_baselines("codec2:1200+700c, opus:8k") == [("codec2", "1200"), ("codec2", "700C"), ("opus", "8")]
    assert parse_baselines("none") == [] and parse_baselines(None) == []


@tools
def test_opus_runs_at_every_nsc_rate(speech_dir, tiny_codec):
    result = evaluate([speech_dir / "a.wav"], codecs=[], baselines="opus:8", visqol=False, opus_rates=[8000, 16000])
    rates = {s.system: (s.sample_rate, s.pesq_mode) for s in result.summaries}
    assert rates == {"opus-nb 8k": (8000, "nb"), "opus-wb 8k": (16000, "wb")}
    assert np.isfinite(result.summaries[1].pesq)


def test_manifest_reference_with_split(tmp_path):
    import csv

    import soundfile as sf

    from conftest import make_tone
    from nsc.eval import find_audio

    rows = []
    for i, split in enumerate(["train", "valid", "valid"]):
        sf.write(tmp_path / f"a{i}.wav", make_tone(0.3), 8000)
        rows.append({"path": f"a{i}.wav", "split": split})
    with open(tmp_path / "manifest.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["path", "split"])
        w.writeheader()
        w.writerows(rows)
    assert [p.name for p in find_audio([tmp_path / "manifest.csv"], split="valid")] == ["a1.wav", "a2.wav"]
    assert len(find_audio([tmp_path / "manifest.csv"])) == 3
    from nsc.errors import AudioError

    with pytest.raises(AudioError, match="split"):
        find_audio([tmp_path / "manifest.csv"], split="test")


def test_eval_jobs_gives_the_same_scores_in_the_same_order(speech_dir):
    """Worker processes (spawned, so they load the packaged codec themselves) change nothing but the wall time."""
    files = [speech_dir / "a.wav", speech_dir / "sub" / "b.flac"]
    kw = dict(codecs=["mscacodec-nb"], bitrates_kbps=[1.2], baselines="none", visqol=False)
    serial = evaluate(files, **kw)
    parallel = evaluate(files, jobs=2, **kw)
    assert [(r.file, r.system) for r in parallel.rows] == [(r.file, r.system) for r in serial.rows]
    for a, b in zip(serial.rows, parallel.rows):
        assert (a.pesq, a.stoi, a.lsd_db, a.payload_bits, a.file_bits) == (b.pesq, b.stoi, b.lsd_db, b.payload_bits,
                                                                           b.file_bits)
    assert parallel.codebook_usage == serial.codebook_usage
    assert set(parallel.example["systems"]) == {"mscacodec-nb 1.2k"} and parallel.example["reference"]
    # nothing about jobs being ignored; the registry's beam width, as `nsc encode` uses it; `nsc decode`'s precision
    arithmetic = "with its MSR-CAM blocks in bfloat16" if native_bfloat16() else "in float32"
    assert parallel.notes == ["mscacodec-nb: decoded with the postfilter", "mscacodec-nb: encoded with beam width 4",
                              f"mscacodec-nb: decoded {arithmetic}"]


def test_eval_precision_option_is_used_and_noted(speech_dir, tiny_codec):
    files = [speech_dir / "a.wav"]
    kw = dict(codecs=[tiny_codec], bitrates_kbps=[1.2], baselines="none", visqol=False)
    f32, b16 = evaluate(files, precision="float32", **kw), evaluate(files, precision="bfloat16", **kw)
    assert "test-tiny: decoded in float32" in f32.notes
    assert "test-tiny: decoded with its MSR-CAM blocks in bfloat16" in b16.notes
    assert f32.rows[0].lsd_db != b16.rows[0].lsd_db  # the decoder did run in each
    r = CliRunner().invoke(app, ["eval", str(files[0]), "-c", "test-tiny", "--baselines", "none",
                                 "--precision", "fp16"])
    assert r.exit_code == 2 and "precision must be one of" in r.stderr


def test_eval_beam_width_option_is_used_and_noted(speech_dir, tiny_codec):
    files = [speech_dir / "a.wav"]
    kw = dict(codecs=[tiny_codec], bitrates_kbps=[1.2], baselines="none", visqol=False)
    greedy, beam = evaluate(files, **kw), evaluate(files, beam_width=16, **kw)
    assert "test-tiny: encoded with beam width 1 (greedy)" in greedy.notes
    assert "test-tiny: encoded with beam width 16" in beam.notes
    assert greedy.rows[0].payload_bits == beam.rows[0].payload_bits  # same bitrate, other codes
    assert greedy.codebook_usage != beam.codebook_usage


def test_eval_jobs_with_loaded_codecs_runs_serially_with_a_note(speech_dir, tiny_codec):
    result = evaluate([speech_dir / "a.wav", speech_dir / "sub" / "b.flac"], codecs=[tiny_codec], baselines="none",
                      visqol=False, jobs=2)
    assert len(result.rows) == 2 * len(tiny_codec.spec.n_codebooks_options)
    assert any("jobs > 1 ignored" in n for n in result.notes)
