"""`nsc decode`: lengths, rates, salvage, fingerprints, pipes, errors."""

from __future__ import annotations

import io

import numpy as np
import soundfile as sf
from conftest import no_partials, run_nsc, write_wav
from conftest import TINY

from nsc import container
from nsc.codec import load_codec
from nsc.weights import save_weights


def _encoded(tmp_path, seconds=1.0, rate=16000, name="speech"):
    src = write_wav(tmp_path / f"{name}.wav", seconds, rate)
    assert run_nsc("encode", src, "-c", "test-tiny", "-q").exit_code == 0
    return tmp_path / f"{name}.nsc"


def test_decode_default_and_rates(tmp_path, tiny_weights):
    f = _encoded(tmp_path, 1.3, 16000)
    r = run_nsc("decode", f)
    assert r.exit_code == 0, r.stderr
    y, sr = sf.read(tmp_path / "speech.nsc.wav")
    assert sr == 8000 and len(y) == round(1.3 * 8000)
    r = run_nsc("decode", f, "--sample-rate", "original", "-o", tmp_path / "orig.wav")
    assert r.exit_code == 0
    info = sf.info(tmp_path / "orig.wav")
    assert info.samplerate == 16000 and info.frames == round(1.3 * 16000)
    r = run_nsc("decode", f, "-r", "22.05k", "-o", tmp_path / "r.wav")
    assert r.exit_code == 0 and sf.info(tmp_path / "r.wav").samplerate == 22050
    r = run_nsc("decode", f, "-r", "24k", "-o", tmp_path / "r.wav")
    assert r.exit_code == 1 and "--force" in r.stderr
    r = run_nsc("decode", f, "-r", "24k", "-o", tmp_path / "r.wav", "-f")
    assert r.exit_code == 0 and sf.info(tmp_path / "r.wav").samplerate == 24000
    r = run_nsc("decode", f, "-r", "loud")
    assert r.exit_code == 2 and "--sample-rate" in r.stderr


def test_existing_output_needs_force(tmp_path, tiny_weights):
    f = _encoded(tmp_path)
    (tmp_path / "speech.nsc.wav").write_bytes(b"keep")
    r = run_nsc("decode", f)
    assert r.exit_code == 1 and "--force" in r.stderr
    assert (tmp_path / "speech.nsc.wav").read_bytes() == b"keep"
    assert run_nsc("decode", f, "--force").exit_code == 0
    assert sf.info(tmp_path / "speech.nsc.wav").frames == 8000


def test_corrupt_refused_then_salvaged(tmp_path, tiny_weights):
    f = _encoded(tmp_path, 9.0, 8000)
    data = bytearray(f.read_bytes())
    victim = container.inspect(bytes(data)).packets[1]
    data[victim.offset + 7] ^= 0x0F
    f.write_bytes(bytes(data))
    r = run_nsc("decode", f)
    assert r.exit_code == 1 and "packet 1" in r.stderr and "--salvage" in r.stderr
    assert not (tmp_path / "speech.nsc.wav").exists() and no_partials(tmp_path)
    r = run_nsc("decode", f, "--salvage")
    assert r.exit_code == 0, r.stderr
    assert f"lost {victim.start_s:.2f}-{victim.end_s:.2f} s" in r.stderr
    y, sr = sf.read(tmp_path / "speech.nsc.wav")
    assert len(y) == 9 * 8000
    assert np.all(y[int(victim.start_s * sr) : int(victim.end_s * sr)] == 0)


def test_not_nsc_and_truncated(tmp_path, tiny_weights):
    (tmp_path / "x.nsc").write_bytes(b"RIFF....WAVEfmt ")
    r = run_nsc("decode", tmp_path / "x.nsc")
    assert r.exit_code == 1 and "x.nsc" in r.stderr and "Traceback" not in r.stderr
    f = _encoded(tmp_path, 5.0, 8000)
    f.write_bytes(f.read_bytes()[:-30])
    r = run_nsc("decode", f)
    assert r.exit_code == 1 and "truncated" in r.stderr
    r = run_nsc("decode", f, "--salvage")
    assert r.exit_code == 0 and "lost" in r.stderr


def test_wrong_fingerprint(tmp_path, tiny_weights, monkeypatch):
    f = _encoded(tmp_path)
    other = load_codec("test-tiny", random_init=True, seed=7, config=TINY)
    d = tmp_path / "other-weights"
    save_weights(other.model.state_dict(), {"model": TINY}, d / "test-tiny.safetensors")
    monkeypatch.setenv("NSC_WEIGHTS_DIR", str(d))
    r = run_nsc("decode", f)
    assert r.exit_code == 1
    h = container.read_header(open(f, "rb"))
    assert h.fingerprint.hex() in r.stderr and other.fingerprint.hex() in r.stderr


def test_stdin_stdout_pipe(tmp_path, tiny_weights):
    f = _encoded(tmp_path, 0.77, 8000)
    r = run_nsc("decode", "-", input=f.read_bytes())
    assert r.exit_code == 0, r.stderr
    y, sr = sf.read(io.BytesIO(r.stdout_bytes))
    assert sr == 8000 and len(y) == round(0.77 * 8000)


def test_folder_mirror_and_partial_failure(tmp_path, tiny_weights):
    _encoded(tmp_path / "in", name="a")
    _encoded(tmp_path / "in" / "sub", name="b")
    (tmp_path / "in" / "sub" / "c.nsc").write_bytes(b"broken")
    r = run_nsc("decode", tmp_path / "in", "-o", tmp_path / "out")
    assert r.exit_code == 1 and "c.nsc" in r.stderr and "1 of 3 inputs failed" in r.stderr
    assert (tmp_path / "out" / "a.nsc.wav").exists() and (tmp_path / "out" / "sub" / "b.nsc.wav").exists()
    assert not (tmp_path / "out" / "sub" / "c.nsc.wav").exists() and no_partials(tmp_path)


def test_short_file_roundtrips_same_length(tmp_path, tiny_weights):
    sf.write(tmp_path / "tiny.wav", np.full(57, 0.2, np.float32), 8000)
    assert run_nsc("encode", tmp_path / "tiny.wav", "-c", "test-tiny").exit_code == 0
    assert run_nsc("decode", tmp_path / "tiny.nsc", "-r", "original").exit_code == 0
    assert sf.info(tmp_path / "tiny.nsc.wav").frames == 57
