"""nsc.audio: probing, whole and streaming reads, resampling, WAV writing, errors."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf
from conftest import make_tone

from nsc.audio import (
    AudioReader,
    WavWriter,
    load_audio,
    probe,
    resample,
    resampled_length,
    save_wav,
    snr_db,
    to_mono,
)
from nsc.errors import AudioError


@pytest.mark.parametrize(
    "fmt,subtype",
    [("WAV", "PCM_U8"), ("WAV", "PCM_16"), ("WAV", "PCM_24"), ("WAV", "PCM_32"), ("WAV", "FLOAT"),
     ("FLAC", "PCM_16"), ("FLAC", "PCM_24"), ("OGG", "VORBIS")],
)
def test_reads_formats(tmp_path, fmt, subtype):
    x = make_tone(0.3, 16000)
    p = tmp_path / f"a.{fmt.lower()}"
    sf.write(p, x, 16000, format=fmt, subtype=subtype)
    info = probe(p)
    assert info.sample_rate == 16000 and info.channels == 1 and info.n_samples == len(x)
    y, sr = load_audio(p, mono=True)
    assert sr == 16000 and y.dtype == np.float32 and y.shape == x.shape
    tol = {"PCM_U8": 15, "VORBIS": 5}.get(subtype, 40)
    assert snr_db(x, y) > tol


def test_streaming_reader_matches_whole_file(tmp_path):
    x = make_tone(3.1, 44100, channels=2)
    p = tmp_path / "s.wav"
    sf.write(p, x.T, 44100, subtype="FLOAT")
    with AudioReader(p, 8000, block_size=5000) as r:
        y = np.concatenate(list(r.blocks()))
        assert any("resampled 44100 Hz -> 8000 Hz" in n for n in r.notices)
        assert any("2 channels mixed to mono" in n for n in r.notices)
    assert len(y) == r.n_out == resampled_length(x.shape[1], 44100, 8000)
    ref = resample(to_mono(x), 44100, 8000)
    np.testing.assert_allclose(y, ref, atol=1e-5)


def test_reader_same_rate_is_exact(tmp_path):
    x = make_tone(0.7, 8000)
    p = tmp_path / "s.wav"
    sf.write(p, x, 8000, subtype="FLOAT")
    with AudioReader(p, 8000, block_size=1000) as r:
        y = np.concatenate(list(r.blocks()))
        assert r.notices == []
    np.testing.assert_array_equal(y, x)


def test_reader_from_file_object(tmp_path):
    x = make_tone(0.2, 8000)
    buf = io.BytesIO()
    sf.write(buf, x, 8000, format="WAV", subtype="PCM_16")
    buf.seek(0)
    with AudioReader(buf, 8000) as r:
        y = np.concatenate(list(r.blocks()))
    assert len(y) == len(x)


def test_resample_lengths():
    for n, a, b in [(1, 16000, 8000), (3, 44100, 8000), (16001, 16000, 8000), (12345, 22050, 16000)]:
        y = resample(np.zeros(n, np.float32), a, b)
        assert len(y) == resampled_length(n, a, b)
    y = resample(np.zeros((2, 100), np.float32), 16000, 8000)
    assert y.shape == (2, 50)


def test_nan_inf_rejected(tmp_path):
    x = make_tone(0.5, 8000)
    x[1000] = np.nan
    p = tmp_path / "nan.wav"
    sf.write(p, x, 8000, subtype="FLOAT")
    with pytest.raises(AudioError, match="NaN"):
        load_audio(p)
    with pytest.raises(AudioError, match="NaN"), AudioReader(p, 8000) as r:
        list(r.blocks())
    x[1000] = np.inf
    sf.write(p, x, 8000, subtype="FLOAT")
    with pytest.raises(AudioError, match="infinite"):
        load_audio(p)


def test_bad_inputs(tmp_path):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(AudioError, match="empty"):
        probe(empty)
    text = tmp_path / "notes.wav"
    text.write_text("this is not audio\n" * 10)
    with pytest.raises(AudioError, match="not a readable audio file"):
        probe(text)
    with pytest.raises(AudioError, match="no such file"):
        probe(tmp_path / "missing.wav")
    with pytest.raises(AudioError, match="folder"):
        probe(tmp_path)
    zero = tmp_path / "zero.wav"
    sf.write(zero, np.zeros(0, np.float32), 8000)
    with pytest.raises(AudioError, match="no audio samples"):
        probe(zero)


def test_wav_writer_exact_length_on_pipe_like_object():
    buf = io.BytesIO()
    w = WavWriter(buf, 8000, 1000)
    w.write(np.full(600, 0.5, np.float32))
    w.write(np.full(600, 2.0, np.float32))  # 200 dropped, clipped to 1
    w.close()
    y, sr = sf.read(io.BytesIO(buf.getvalue()), dtype="float32")
    assert sr == 8000 and len(y) == 1000 and y.max() <= 1.0
    buf = io.BytesIO()
    w = WavWriter(buf, 16000, 500)
    w.write(np.zeros(10, np.float32))
    w.close()  # pads
    assert len(sf.read(io.BytesIO(buf.getvalue()))[0]) == 500


def test_save_wav_roundtrip(tmp_path):
    x = make_tone(0.2, 8000, channels=2)
    save_wav(tmp_path / "o.wav", x, 8000)
    y, sr = load_audio(tmp_path / "o.wav")
    assert y.shape == x.shape and snr_db(x, y) > 60
