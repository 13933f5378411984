"""Reduced-precision decoding (nsc.models.precision): the decoder's MSR-CAM blocks in bfloat16, the rest float32."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import make_tone, no_partials, run_nsc, write_wav

import nsc
from nsc.codec import load_codec
from nsc.errors import NscError
from nsc.models import precision
from nsc.models.fuse import FusedMSRCAM, fuse_for_inference


def _snr_db(ref: torch.Tensor, y: torch.Tensor) -> float:
    return float(10 * torch.log10(ref.pow(2).sum() / (ref - y).pow(2).sum()))


def test_lower_precision_changes_the_decoders_blocks_only(tiny_codec):
    model = fuse_for_inference(tiny_codec.model)
    assert precision.lower_precision(model, torch.float32) == 0
    assert precision.lower_precision(model, torch.bfloat16) == 4
    blocks = [m for m in model.decoder.modules() if isinstance(m, FusedMSRCAM)]
    assert all(b.compute_dtype == torch.bfloat16 and b.fuse.weight.dtype == torch.bfloat16 for b in blocks)
    assert all(p.dtype == torch.float32 for p in model.encoder.parameters())
    assert all(p.dtype == torch.float32 for p in model.quantizer.parameters())
    # the trained model is untouched
    assert all(p.dtype == torch.float32 for p in tiny_codec.model.parameters())


def test_resolve_precision(monkeypatch):
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    monkeypatch.setattr(precision, "native_bfloat16", lambda: True)
    assert precision.resolve_precision("auto", cpu) == torch.bfloat16
    assert precision.resolve_precision("auto", cuda) == torch.float32
    assert precision.resolve_precision("float32", cpu) == torch.float32
    monkeypatch.setattr(precision, "native_bfloat16", lambda: False)
    assert precision.resolve_precision("auto", cpu) == torch.float32
    assert precision.resolve_precision("bfloat16", cpu) == torch.bfloat16
    with pytest.raises(NscError, match="precision must be one of auto, float32, bfloat16"):
        precision.resolve_precision("fp16", cpu)


def test_codec_precision_changes_decoding_not_encoding(tiny_codec):
    with pytest.raises(NscError, match="precision"):
        tiny_codec.with_precision("half")
    f32, b16 = tiny_codec.with_precision("float32"), tiny_codec.with_precision("bfloat16")
    assert f32.with_precision("float32") is f32 and b16.model is f32.model
    x = torch.from_numpy(make_tone(1.0))[None, None]
    codes = f32.encode(x, 3)
    assert torch.equal(b16.encode(x, 3), codes)
    y32, y16 = f32.decode(codes), b16.decode(codes)
    with torch.no_grad():
        torch.testing.assert_close(y32, f32.model.decode(codes).clamp(-1, 1), rtol=1e-4, atol=1e-5)
    assert not torch.equal(y32, y16)  # the blocks did run in bfloat16
    assert _snr_db(y32, y16) > 25


def test_shipped_mscacodec_nb_decodes_in_bfloat16_within_40_db_of_float32():
    codec = load_codec("mscacodec-nb")
    x = torch.from_numpy(make_tone(3.0, seed=3))[None, None]
    f32 = codec.with_precision("float32")
    codes = f32.encode(x, 3)
    assert _snr_db(f32.decode(codes), codec.with_precision("bfloat16").decode(codes)) > 40


def test_cli_and_api_decode_in_the_precision_asked_for(tmp_path, tiny_weights):
    src = write_wav(tmp_path / "speech.wav", 1.0, 8000)
    assert run_nsc("encode", src, "-c", "test-tiny", "-q").exit_code == 0
    f = tmp_path / "speech.nsc"
    outs = {}
    for p in ("float32", "bfloat16"):
        r = run_nsc("decode", f, "--precision", p, "--no-postfilter", "-o", tmp_path / f"{p}.wav")
        assert r.exit_code == 0, r.stderr
        outs[p], _ = sf.read(tmp_path / f"{p}.wav", dtype="float32")
    assert not np.array_equal(outs["float32"], outs["bfloat16"])
    api, rate = nsc.decode(f.read_bytes(), precision="float32", postfilter=False)
    assert rate == 8000 and np.abs(api - outs["float32"]).max() <= 1.5 / 32768  # 16-bit WAV rounding
    r = run_nsc("decode", f, "--precision", "half", "-o", tmp_path / "half.wav")
    assert r.exit_code == 2 and "--precision must be auto, float32 or bfloat16" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "half.wav").exists() and no_partials(tmp_path)
    with pytest.raises(NscError, match="precision"):
        nsc.decode(f.read_bytes(), precision="half")
