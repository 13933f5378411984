"""`nsc encode`: paths, options, every error path, exit codes."""

from __future__ import annotations

import io

import numpy as np
import soundfile as sf
from conftest import no_partials, run_nsc, write_wav

from nsc import container


def test_encode_file_beside_input(tmp_path, tiny_weights):
    src = write_wav(tmp_path / "speech.wav", 1.0, 16000, channels=2)
    r = run_nsc("encode", src, "-c", "test-tiny")
    assert r.exit_code == 0, r.stderr
    out = tmp_path / "speech.nsc"
    h, codes = container.unpack(out.read_bytes())
    assert h.codec_id == 250 and h.n_codebooks == 3 and h.input_channels == 2
    assert "resampled 16000 Hz -> 8000 Hz" in r.stderr and "mixed to mono" in r.stderr
    assert "encoded 1 file" in r.stderr and r.stdout == ""


def test_bitrate_forms_pick_codebooks(tmp_path, tiny_weights):
    src = write_wav(tmp_path / "a.wav")
    for text, q in [("0.4k", 1), ("800", 2), ("1.2kbps", 3), ("1200bps", 3)]:
        r = run_nsc("encode", src, "-c", "test-tiny", "-b", text, "-o", tmp_path / f"{q}.nsc", "--force")
        assert r.exit_code == 0, r.stderr
        assert container.read_header(open(tmp_path / f"{q}.nsc", "rb")).n_codebooks == q


def test_bad_bitrate_lists_offered(tmp_path, tiny_weights):
    src = write_wav(tmp_path / "a.wav")
    r = run_nsc("encode", src, "-c", "test-tiny", "-b", "2.4k")
    assert r.exit_code == 2
    assert "offers 0.4k, 0.8k, 1.2k" in r.stderr and "Traceback" not in r.stderr
    r = run_nsc("encode", src, "-b", "fast")
    assert r.exit_code == 2 and "cannot read bitrate" in r.stderr
    r = run_nsc("encode", src, "-b", "7.7k")
    assert r.exit_code == 2 and "no codec offers 7.7k" in r.stderr and "1.2k (mscacodec-nb)" in r.stderr
    assert not (tmp_path / "a.nsc").exists()


def test_unknown_codec_and_bad_options(tmp_path):
    src = write_wav(tmp_path / "a.wav")
    r = run_nsc("encode", src, "-c", "nope")
    assert r.exit_code == 2 and "unknown codec 'nope'" in r.stderr and "mscacodec-nb" in r.stderr
    r = run_nsc("encode", src, "--device", "tpu")
    assert r.exit_code == 2 and "--device" in r.stderr
    r = run_nsc("encode", src, "--batch-size", "0")
    assert r.exit_code == 2
    r = run_nsc("encode")
    assert r.exit_code == 2


def test_beam_width_option(tmp_path, tiny_weights):
    src = write_wav(tmp_path / "a.wav", 1.0)
    r = run_nsc("encode", src, "-c", "test-tiny", "--beam-width", "8", "-o", tmp_path / "b.nsc")
    assert r.exit_code == 0, r.stderr
    assert "beam width 8" in r.stderr
    r = run_nsc("encode", src, "-c", "test-tiny", "-o", tmp_path / "g.nsc")
    assert r.exit_code == 0 and "beam width 1" in r.stderr  # test-tiny's registry default
    hb, _ = container.unpack((tmp_path / "b.nsc").read_bytes())
    hg, _ = container.unpack((tmp_path / "g.nsc").read_bytes())
    assert hb == hg
    r = run_nsc("encode", src, "-c", "test-tiny", "--beam-width", "0", "-o", tmp_path / "z.nsc")
    assert r.exit_code == 2 and "Traceback" not in r.stderr
    r = run_nsc("encode", src, "-c", "srcodec-16k", "--beam-width", "4", "-o", tmp_path / "s.nsc")
    assert r.exit_code == 2 and "greedily only" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "z.nsc").exists() and not (tmp_path / "s.nsc").exists()


def test_missing_weights_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("NSC_WEIGHTS_DIR", str(tmp_path))
    src = write_wav(tmp_path / "a.wav")
    r = run_nsc("encode", src, "-c", "test-tiny")
    assert r.exit_code == 1 and "no trained weights for test-tiny" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_missing_input_and_partial_failure(tmp_path, tiny_weights):
    good = write_wav(tmp_path / "good.wav")
    r = run_nsc("encode", tmp_path / "missing.wav", good, "-c", "test-tiny")
    assert r.exit_code == 1
    assert "missing.wav: no such file" in r.stderr and "1 of 2 inputs failed" in r.stderr
    assert (tmp_path / "good.nsc").exists()


def test_existing_output_needs_force(tmp_path, tiny_weights):
    src = write_wav(tmp_path / "a.wav")
    (tmp_path / "a.nsc").write_bytes(b"old")
    r = run_nsc("encode", src, "-c", "test-tiny")
    assert r.exit_code == 1 and "exists (use --force to overwrite)" in r.stderr
    assert (tmp_path / "a.nsc").read_bytes() == b"old"
    r = run_nsc("encode", src, "-c", "test-tiny", "--force")
    assert r.exit_code == 0 and (tmp_path / "a.nsc").read_bytes()[:4] == b"NSCF"
    assert no_partials(tmp_path)


def test_bad_audio_inputs(tmp_path, tiny_weights):
    x = np.zeros(4000, np.float32)
    x[100] = np.nan
    sf.write(tmp_path / "nan.wav", x, 8000, subtype="FLOAT")
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "text.wav").write_text("hello, I am not audio\n")
    sf.write(tmp_path / "zero.wav", np.zeros(0, np.float32), 8000)
    for name, msg in [("nan.wav", "NaN"), ("empty.wav", "empty file"), ("text.wav", "not a readable audio file"),
                      ("zero.wav", "no audio samples")]:
        r = run_nsc("encode", tmp_path / name, "-c", "test-tiny")
        assert r.exit_code == 1, name
        assert msg in r.stderr and "Traceback" not in r.stderr, r.stderr
        assert not (tmp_path / name).with_suffix(".nsc").exists()
    assert no_partials(tmp_path)


def test_folder_is_mirrored(tmp_path, tiny_weights):
    write_wav(tmp_path / "in" / "a.wav")
    write_wav(tmp_path / "in" / "sub" / "b.flac", 0.3, 16000, format="FLAC")
    write_wav(tmp_path / "in" / "sub" / "deeper" / "c.wav", 0.2, 44100)
    (tmp_path / "in" / "sub" / "readme.txt").write_text("skip me")
    r = run_nsc("encode", tmp_path / "in", "-o", tmp_path / "out", "-c", "test-tiny")
    assert r.exit_code == 0, r.stderr
    got = sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*.nsc"))
    assert got == ["a.nsc", "sub/b.nsc", "sub/deeper/c.nsc"]
    assert "encoded 3 files" in r.stderr


def test_folder_partial_failure_continues(tmp_path, tiny_weights):
    write_wav(tmp_path / "in" / "a.wav")
    (tmp_path / "in" / "b.wav").write_text("garbage")
    write_wav(tmp_path / "in" / "c.wav")
    r = run_nsc("encode", tmp_path / "in", "-c", "test-tiny", "-q")
    assert r.exit_code == 1
    assert (tmp_path / "in" / "a.nsc").exists() and (tmp_path / "in" / "c.nsc").exists()
    assert "b.wav" in r.stderr and "encoded" not in r.stderr  # quiet: errors only


def test_stdin_to_stdout(tmp_path, tiny_weights):
    buf = io.BytesIO()
    x = np.random.default_rng(0).uniform(-0.3, 0.3, 3000).astype(np.float32)
    sf.write(buf, x, 8000, format="WAV", subtype="PCM_16")
    r = run_nsc("encode", "-", "-c", "test-tiny", "-q", input=buf.getvalue())
    assert r.exit_code == 0, r.stderr
    h, codes = container.unpack(r.stdout_bytes)
    assert h.n_samples == 3000 and codes.shape == (3, 19)
    r = run_nsc("encode", "-", "-c", "test-tiny", input=b"not audio")
    assert r.exit_code == 1 and "<stdin>" in r.stderr
    r = run_nsc("encode", "-", tmp_path / "x.wav", "-c", "test-tiny")
    assert r.exit_code == 2


def test_quiet_prints_nothing_on_success(tmp_path, tiny_weights):
    src = write_wav(tmp_path / "a.wav", 0.3, 16000)
    r = run_nsc("encode", src, "-c", "test-tiny", "--quiet")
    assert r.exit_code == 0 and r.stderr == "" and r.stdout == ""


def test_never_modifies_input(tmp_path, tiny_weights):
    src = write_wav(tmp_path / "a.wav")
    before = src.read_bytes()
    r = run_nsc("encode", src, "-c", "test-tiny", "-o", src, "--force")
    assert r.exit_code == 1 and "overwrite the input" in r.stderr
    assert src.read_bytes() == before


def test_real_speech_roundtrip(tmp_path, tiny_weights):
    """Real speech from the shared corpus through the CLI and back, at the original rate and length."""
    import pytest
    from conftest import SPEECH

    files = sorted(SPEECH.glob("cmu_arctic/*/*.flac"))[:2] + sorted(SPEECH.glob("ljspeech/**/*.flac"))[:1]
    if not files:
        pytest.skip("shared speech corpus not present")
    for f in files:
        (tmp_path / "in" / f.name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "in" / f.name).write_bytes(f.read_bytes())
    r = run_nsc("encode", tmp_path / "in", "-o", tmp_path / "codes", "-c", "test-tiny", "-b", "1.2k")
    assert r.exit_code == 0, r.stderr
    r = run_nsc("decode", tmp_path / "codes", "-o", tmp_path / "out", "-r", "original")
    assert r.exit_code == 0, r.stderr
    for f in files:
        src, out = sf.info(f), sf.info(tmp_path / "out" / (f.stem + ".nsc.wav"))
        assert (out.samplerate, out.frames) == (src.samplerate, src.frames)
        h = container.read_header(open(tmp_path / "codes" / (f.stem + ".nsc"), "rb"))
        assert h.n_samples == src.frames and h.input_sample_rate == src.samplerate
        assert abs(h.duration_s - src.duration) < 1e-9


def test_progress_bar_on_a_terminal(tmp_path, tiny_codec):
    """On a terminal, a long file gets a bar with x real time and kbit/s, then the summary."""
    import io as _io

    from rich.console import Console

    from nsc.cli._util import BatchUI
    from nsc.engine import Engine, Job

    src = write_wav(tmp_path / "long.wav", 31.0)
    buf = _io.StringIO()
    ui = BatchUI("encoded", console=Console(file=buf, force_terminal=True, width=120, highlight=False))
    report = Engine(tiny_codec, listener=ui, chunk_s=2.0).encode_files([Job(str(src), str(tmp_path / "l.nsc"))])
    assert ui.summary(report) == 0
    out = buf.getvalue()
    assert "encoding" in out and "x real time" in out and "kbit/s" in out
    assert "encoded 1 file, 31.0 s of audio (0.009 h)" in out


def test_cuda_unavailable_is_usage_error(tmp_path, tiny_weights):
    import torch

    if torch.cuda.is_available():
        import pytest

        pytest.skip("CUDA present")
    r = run_nsc("encode", write_wav(tmp_path / "a.wav"), "-c", "test-tiny", "--device", "cuda")
    assert r.exit_code == 2 and "no CUDA device" in r.stderr
    r = run_nsc("encode", tmp_path / "a.wav", "-c", "test-tiny", "--device", "auto", "-q")
    assert r.exit_code == 0
