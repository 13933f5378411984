"""The Python API in nsc/__init__.py: encode/decode bytes, load_codec, file helpers."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from conftest import TINY, make_tone

import nsc
from nsc import container
from nsc.codec import load_codec as load_random


def test_encode_decode_roundtrip_with_loaded_codec(tiny_codec):
    x = make_tone(1.234, 16000, channels=2)
    data = nsc.encode(x, 16000, bitrate_kbps="1.2k", codec=tiny_codec)
    assert isinstance(data, bytes)
    header, codes = container.unpack(data)
    assert header.n_codebooks == 3 and header.input_channels == 2 and header.n_samples == x.shape[1]
    assert header.bitrate_bps == 1200 and header.fingerprint == tiny_codec.fingerprint
    y, sr = nsc.decode(data, codec=tiny_codec)
    assert sr == 8000 and y.dtype == np.float32 and y.shape == (header.codec_length,)
    y, sr = nsc.decode(data, codec=tiny_codec, sample_rate="original")
    assert sr == 16000 and y.shape == (x.shape[1],)
    y, sr = nsc.decode(data, codec=tiny_codec, sample_rate=22050)
    assert sr == 22050


def test_bitrate_selects_codebooks(tiny_codec):
    x = make_tone(0.5)
    for kbps, q in [(0.4, 1), (0.8, 2), ("1200", 3), (None, 3)]:
        header, _ = container.unpack(nsc.encode(x, 8000, kbps, codec=tiny_codec))
        assert header.n_codebooks == q
    with pytest.raises(nsc.BitrateError, match="offers 0.4k, 0.8k, 1.2k"):
        nsc.encode(x, 8000, 2.4, codec=tiny_codec)


def test_load_codec_by_name_from_weights_dir(tiny_weights, tiny_codec):
    c = nsc.load_codec("test-tiny")
    assert c.fingerprint == tiny_codec.fingerprint and c.trained
    assert nsc.load_codec("test-tiny") is c  # cached
    data = nsc.encode(make_tone(0.3), 8000, codec="test-tiny")
    y, sr = nsc.decode(data)  # codec found from the header
    assert sr == 8000 and len(y) == 2400


def test_api_errors(tiny_codec):
    with pytest.raises(nsc.AudioError, match="NaN"):
        nsc.encode(np.array([0.0, np.nan], np.float32), 8000, codec=tiny_codec)
    with pytest.raises(nsc.AudioError, match="non-empty"):
        nsc.encode(np.zeros(0, np.float32), 8000, codec=tiny_codec)
    with pytest.raises(nsc.AudioError):
        nsc.encode(np.zeros((1, 2, 3), np.float32), 8000, codec=tiny_codec)
    with pytest.raises(nsc.UnknownCodecError, match="known codecs"):
        nsc.encode(make_tone(0.1), 8000, codec="nope")
    with pytest.raises(nsc.FormatError):
        nsc.decode(b"not an nsc file at all", codec=tiny_codec)
    data = nsc.encode(make_tone(0.3), 8000, codec=tiny_codec)
    other = load_random("test-tiny", random_init=True, seed=3, config=TINY)
    with pytest.raises(nsc.WeightsError, match=tiny_codec.fingerprint.hex()):
        nsc.decode(data, codec=other)


def test_int16_input_and_salvage(tiny_codec):
    x = (make_tone(6.0) * 32767).astype(np.int16)
    data = bytearray(nsc.encode(x, 8000, codec=tiny_codec))
    rep = container.inspect(bytes(data))
    data[rep.packets[0].offset + 8] ^= 0x55
    with pytest.raises(nsc.FormatError):
        nsc.decode(bytes(data), codec=tiny_codec)
    y, sr = nsc.decode(bytes(data), codec=tiny_codec, salvage=True)
    assert len(y) == 6 * 8000 and np.all(y[: int(rep.packets[0].end_s * sr)] == 0)


def test_file_helpers(tmp_path, tiny_weights):
    sf.write(tmp_path / "a.flac", make_tone(0.7, 16000), 16000)
    r = nsc.encode_file(tmp_path / "a.flac", tmp_path / "a.nsc", codec="test-tiny")
    assert r.ok and r.audio_s == pytest.approx(0.7)
    with pytest.raises(nsc.NscError, match="--force"):
        nsc.encode_file(tmp_path / "a.flac", tmp_path / "a.nsc", codec="test-tiny")
    nsc.decode_file(tmp_path / "a.nsc", tmp_path / "a.wav", sample_rate="original")
    assert sf.info(tmp_path / "a.wav").frames == int(0.7 * 16000)


def test_public_docstrings():
    for name in ["load_codec", "encode", "decode", "encode_file", "decode_file"]:
        doc = getattr(nsc, name).__doc__
        assert doc and "Raises:" in doc, name
    assert nsc.__version__


def test_beam_width_finds_codes_nearer_the_encoder_output(tiny_codec):
    import torch

    x = make_tone(2.0, 8000, seed=4)
    greedy = nsc.encode(x, 8000, codec=tiny_codec, beam_width=1)
    beam = nsc.encode(x, 8000, codec=tiny_codec, beam_width=16)
    (h_g, c_g), (h_b, c_b) = container.unpack(greedy), container.unpack(beam)
    assert h_g == h_b and c_g.shape == c_b.shape  # same header: the search is not part of the format
    m = tiny_codec.model
    with torch.no_grad():
        z = m.encoder(m.pad_to_frames(torch.from_numpy(x).reshape(1, 1, -1)))

        def err(codes):
            return float((m.quantizer.decode(torch.from_numpy(codes)[None]) - z).pow(2).sum())

    assert err(c_b) < err(c_g)
    y, _ = nsc.decode(beam, codec=tiny_codec)  # any width decodes with the same model
    assert y.shape == (h_b.codec_length,)
    assert tiny_codec.with_beam_width(16).beam_width == 16 and tiny_codec.beam_width == 1  # a copy
    with pytest.raises(nsc.NscError, match="at least 1"):
        nsc.encode(x, 8000, codec=tiny_codec, beam_width=0)


def test_default_beam_width_comes_from_the_registry():
    from nsc.registry import get_spec

    assert get_spec("mscacodec-nb").beam_width == 4
    assert load_random("mscacodec-nb", random_init=True).beam_width == 4
    srcodec = load_random("srcodec-16k", random_init=True)
    assert srcodec.beam_width == 1
    with pytest.raises(nsc.NscError, match="greedily only"):
        srcodec.with_beam_width(2)
