"""nsc.engine: chunking with left context, batching, streaming files, safety, salvage."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import TINY, make_tone

from nsc import container
from nsc.audio import load_audio, resample, snr_db
from nsc.codec import load_codec
from nsc.engine import (
    Engine,
    Job,
    chunk_plan,
    decode_array,
    encode_array,
    plan_jobs,
)
from nsc.errors import NscError


def whole(codec, audio):
    codes = codec.encode(torch.from_numpy(audio)[None, None], 3)[0].numpy()
    return codes, codec.decode(torch.from_numpy(codes)[None])[0, 0].numpy()


def test_chunk_plan():
    assert chunk_plan(10, 4, 2) == [(0, 0, 4), (2, 4, 8), (6, 8, 10)]
    assert chunk_plan(3, 4, 50) == [(0, 0, 3)]
    assert chunk_plan(0, 4, 1) == [(0, 0, 1)]
    with pytest.raises(ValueError):
        chunk_plan(5, 0, 1)


@pytest.mark.parametrize("chunk_s,context_s", [(2.0, 1.0), (0.7, 1.0), (3.3, 1.5)])
def test_chunked_matches_whole(tiny_codec, chunk_s, context_s):
    x = make_tone(8.05, 8000, seed=1)
    codes, y = whole(tiny_codec, x)
    c = encode_array(tiny_codec, x, 3, chunk_s=chunk_s, context_s=context_s, batch_size=3)
    assert c.shape == codes.shape == (3, int(np.ceil(len(x) / 160)))
    assert (c == codes).mean() > 0.99
    yc = decode_array(tiny_codec, codes, chunk_s=chunk_s, context_s=context_s, batch_size=2)
    assert yc.shape == y.shape
    assert snr_db(y, yc) >= 30.0


def test_context_matters(tiny_codec):
    """Without left context the chunk seams are audible: the test above is not vacuous."""
    x = make_tone(6.0, 8000, seed=2)
    codes, y = whole(tiny_codec, x)
    yc = decode_array(tiny_codec, codes, chunk_s=1.0, context_s=0.0)
    assert snr_db(y, yc) < 30.0


def _write(path: Path, audio, sr, **kw):
    sf.write(path, audio.T if audio.ndim == 2 else audio, sr, **kw)
    return path


def test_file_roundtrip_lengths_and_streaming(tmp_path, tiny_codec):
    x = make_tone(4.37, 44100, channels=2, seed=3)
    src = _write(tmp_path / "in.wav", x, 44100, subtype="PCM_24")
    eng = Engine(tiny_codec, chunk_s=1.0, context_s=1.0, batch_size=4)
    rep = eng.encode_files([Job(str(src), str(tmp_path / "in.nsc"))])
    assert rep.results[0].ok, rep.results[0].error
    assert "resampled 44100 Hz -> 8000 Hz" in rep.results[0].notices
    header, codes = container.unpack((tmp_path / "in.nsc").read_bytes())
    assert header.n_samples == x.shape[1] and header.input_sample_rate == 44100 and header.input_channels == 2
    # the streamed encode equals the in-memory one
    mono8k, _ = load_audio(src, sample_rate=8000, mono=True)
    np.testing.assert_array_equal(codes, encode_array(tiny_codec, mono8k, 3, chunk_s=1.0, context_s=1.0))

    rep = eng.decode_files([Job(str(tmp_path / "in.nsc"), str(tmp_path / "codec.wav"))])
    assert rep.results[0].ok
    y, sr = sf.read(tmp_path / "codec.wav", dtype="float32")
    assert sr == 8000 and len(y) == header.codec_length
    rep = eng.decode_files([Job(str(tmp_path / "in.nsc"), str(tmp_path / "orig.wav"))], sample_rate="original")
    y, sr = sf.read(tmp_path / "orig.wav", dtype="float32")
    assert sr == 44100 and len(y) == x.shape[1]
    rep = eng.decode_files([Job(str(tmp_path / "in.nsc"), str(tmp_path / "16k.wav"))], sample_rate=16000)
    y, sr = sf.read(tmp_path / "16k.wav", dtype="float32")
    assert sr == 16000 and len(y) == (header.codec_length * 2)


def test_batching_does_not_change_output(tmp_path, tiny_codec):
    files = []
    for i, sec in enumerate([0.3, 1.7, 2.9, 0.05, 5.0]):
        files.append(_write(tmp_path / f"f{i}.wav", make_tone(sec, 8000, seed=i), 8000))
    outs = {}
    for bs in (1, 8):
        d = tmp_path / f"bs{bs}"
        eng = Engine(tiny_codec, batch_size=bs, chunk_s=1.0, workers=2)
        rep = eng.encode_files([Job(str(f), str(d / (f.stem + ".nsc"))) for f in files])
        assert all(r.ok for r in rep.results)
        outs[bs] = [(d / (f.stem + ".nsc")).read_bytes() for f in files]
    assert outs[1] == outs[8]


def test_shorter_than_one_frame(tmp_path, tiny_codec):
    for n, sr in [(37, 8000), (1, 8000), (3, 48000)]:
        src = _write(tmp_path / f"s{n}_{sr}.wav", np.full(n, 0.1, np.float32), sr)
        eng = Engine(tiny_codec)
        assert eng.encode_files([Job(str(src), str(src.with_suffix(".nsc")))]).results[0].ok
        dst = src.with_suffix(".out.wav")
        r = eng.decode_files([Job(str(src.with_suffix(".nsc")), str(dst))], sample_rate="original")
        assert r.results[0].ok, r.results[0].error
        assert sf.info(dst).frames == n and sf.info(dst).samplerate == sr


def test_failures_are_per_file_and_leave_nothing(tmp_path, tiny_codec):
    good = _write(tmp_path / "good.wav", make_tone(1.0), 8000)
    nan = make_tone(3.0)
    nan[20000] = np.nan  # after the first chunk has been written
    bad = _write(tmp_path / "nan.wav", nan, 8000, subtype="FLOAT")
    (tmp_path / "exists.wav").write_bytes(good.read_bytes())
    (tmp_path / "exists.nsc").write_bytes(b"keep me")
    eng = Engine(tiny_codec, chunk_s=0.5, context_s=0.5)
    jobs = plan_jobs([str(tmp_path)], None, mode="encode")
    rep = eng.encode_files(jobs)
    by = {Path(r.src).name: r for r in rep.results}
    assert by["good.wav"].ok
    assert not by["nan.wav"].ok and "NaN" in by["nan.wav"].error
    assert not by["exists.wav"].ok and "--force" in by["exists.wav"].error
    assert (tmp_path / "exists.nsc").read_bytes() == b"keep me"
    assert not (tmp_path / "nan.nsc").exists()
    assert not list(tmp_path.glob(".*part"))
    assert bad.exists()
    rep = eng.encode_files(jobs, force=True)
    assert {Path(r.src).name for r in rep.failed} == {"nan.wav"}
    assert (tmp_path / "exists.nsc").read_bytes() != b"keep me"


def test_plan_jobs_mirrors_folders(tmp_path):
    (tmp_path / "in" / "a" / "b").mkdir(parents=True)
    for p in ["in/x.wav", "in/a/y.flac", "in/a/b/z.ogg", "in/a/notes.txt", "in/.hidden.wav"]:
        (tmp_path / p).write_bytes(b"")
    jobs = plan_jobs([str(tmp_path / "in")], str(tmp_path / "out"), mode="encode")
    rel = sorted(str(Path(j.dst).relative_to(tmp_path / "out")) for j in jobs)
    assert rel == ["a/b/z.nsc", "a/y.nsc", "x.nsc"]
    jobs = plan_jobs([str(tmp_path / "in" / "x.wav")], str(tmp_path / "one.nsc"), mode="encode")
    assert jobs == [Job(str(tmp_path / "in" / "x.wav"), str(tmp_path / "one.nsc"))]
    jobs = plan_jobs([str(tmp_path / "in" / "x.wav")], None, mode="decode")
    assert jobs[0].dst.endswith("x.wav.wav")
    assert plan_jobs(["-"], None, mode="encode") == [Job("-", "-")]
    with pytest.raises(NscError):
        plan_jobs(["-", "x.wav"], None, mode="encode")


def _encode_one(tmp_path, codec, seconds=9.0):
    src = _write(tmp_path / "s.wav", make_tone(seconds, seed=5), 8000)
    Engine(codec).encode_files([Job(str(src), str(tmp_path / "s.nsc"))])
    return tmp_path / "s.nsc"


def test_damaged_refused_then_salvaged(tmp_path, tiny_codec):
    nsc = _encode_one(tmp_path, tiny_codec)
    data = bytearray(nsc.read_bytes())
    header = container.read_header(io.BytesIO(data))
    report = container.inspect(bytes(data))
    victim = report.packets[1]
    data[victim.offset + 10] ^= 0xFF
    bad = tmp_path / "bad.nsc"
    bad.write_bytes(bytes(data))
    eng = Engine(tiny_codec, chunk_s=2.0)
    rep = eng.decode_files([Job(str(bad), str(tmp_path / "bad.wav"))])
    assert not rep.results[0].ok and "--salvage" in rep.results[0].error
    assert not (tmp_path / "bad.wav").exists() and not list(tmp_path.glob(".*part"))
    rep = eng.decode_files([Job(str(bad), str(tmp_path / "bad.wav"))], salvage=True)
    r = rep.results[0]
    assert r.ok and len(r.lost) == 1
    assert r.lost[0][:2] == pytest.approx((victim.start_s, victim.end_s))
    y, sr = sf.read(tmp_path / "bad.wav", dtype="float32")
    assert len(y) == header.codec_length
    lo, hi = int(victim.start_s * sr), int(victim.end_s * sr)
    assert np.all(y[lo:hi] == 0) and np.abs(y[:lo]).max() > 0


def test_wrong_fingerprint_refused(tmp_path, tiny_codec):
    nsc = _encode_one(tmp_path, tiny_codec, 1.0)
    other = load_codec("test-tiny", random_init=True, seed=1, config=TINY)
    rep = Engine(other).decode_files([Job(str(nsc), str(tmp_path / "x.wav"))])
    err = rep.results[0].error
    assert tiny_codec.fingerprint.hex() in err and other.fingerprint.hex() in err


def test_resample_in_engine_matches_soxr(tmp_path, tiny_codec):
    x = make_tone(2.0, 16000, seed=7)
    src = _write(tmp_path / "w.wav", x, 16000, subtype="FLOAT")
    Engine(tiny_codec).encode_files([Job(str(src), str(tmp_path / "w.nsc"))])
    _, codes = container.unpack((tmp_path / "w.nsc").read_bytes())
    ref = encode_array(tiny_codec, resample(x, 16000, 8000), 3)
    np.testing.assert_array_equal(codes, ref)


def test_interrupt_leaves_no_partial_output(tmp_path, tiny_codec):
    from nsc.engine import Listener

    class Stop(Listener):
        def advance(self, audio_s, bytes_out):
            raise KeyboardInterrupt

    srcs = [_write(tmp_path / f"{i}.wav", make_tone(3.0, seed=i), 8000) for i in range(3)]
    eng = Engine(tiny_codec, chunk_s=0.5, listener=Stop())
    with pytest.raises(KeyboardInterrupt):
        eng.encode_files([Job(str(s), str(s.with_suffix(".nsc"))) for s in srcs])
    assert not list(tmp_path.glob("*.nsc")) and not list(tmp_path.glob(".*part"))


@pytest.mark.slow
def test_one_hour_file_stays_under_1_gib(tmp_path):
    """Encode and decode a 1-hour file with the full-size mscacodec-nb (random init), each in a fresh
    process; peak RSS must stay under 1 GiB (run with -m slow; takes a few minutes)."""
    import json
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(root / "benchmarks"))
    import bench_engine

    hour = tmp_path / "hour.wav"
    bench_engine.write_long(hour, 3600.0)
    base = [sys.executable, str(root / "benchmarks" / "bench_engine.py"), "--random-init", "--threads", "1"]
    for what, src, dst in [("encode", hour, tmp_path / "h.nsc"), ("decode", tmp_path / "h.nsc", tmp_path / "h.wav")]:
        out = subprocess.run(base + ["--child", what, "--src", str(src), "--dst", str(dst)],
                             capture_output=True, text=True, check=True)
        peak = json.loads(out.stdout.strip().splitlines()[-1])["peak_rss_mib"]
        assert peak < 1024, f"{what}: peak RSS {peak:.0f} MiB"
    assert sf.info(tmp_path / "h.wav").frames == 3600 * 8000
