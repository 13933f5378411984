"""Codec models: shapes, exact frame counts and bitrates, causality, trainability."""

from __future__ import annotations

import pytest
import torch

from nsc.codec import build_model
from nsc.models.blocks import MSRCAM, TCGRU, CausalConv1d, CausalConvTranspose1d
from nsc.registry import CODECS, get_spec

REAL = ["mscacodec-nb", "mscacodec-wb", "hificodec-16k", "srcodec-16k"]


@pytest.fixture(scope="module", params=REAL)
def tiny_model(request):
    torch.manual_seed(0)
    spec = get_spec(request.param)
    return spec, build_model(spec, {"preset": "tiny"}).eval()


def test_encode_decode_shapes_and_frame_count(tiny_model):
    spec, m = tiny_model
    t = spec.hop_length * 7 + 13  # not a whole number of frames
    x = 0.1 * torch.randn(2, 1, t)
    n = spec.default_n_codebooks
    codes = m.encode(x, n)
    assert codes.shape == (2, n, 8) and codes.dtype == torch.int64
    for q, size in enumerate(spec.codebook_sizes[:n]):
        assert 0 <= int(codes[:, q].min()) and int(codes[:, q].max()) < size
    y = m.decode(codes)
    assert y.shape == (2, 1, 8 * spec.hop_length)


def test_bitrates_match_the_registry():
    assert get_spec("mscacodec-nb").bitrate_kbps(3) == pytest.approx(1.2)
    assert get_spec("mscacodec-nb").bitrate_kbps(6) == pytest.approx(2.4)
    assert get_spec("mscacodec-wb").bitrate_kbps(3) == pytest.approx(1.5)
    assert get_spec("mscacodec-wb").bitrate_kbps(6) == pytest.approx(3.0)
    assert get_spec("hificodec-16k").bitrate_kbps(4) == pytest.approx(2.0)
    assert get_spec("srcodec-16k").bitrate_kbps(2) == pytest.approx(0.95)
    wire = [s.wire_id for s in CODECS.values()]
    assert len(wire) == len(set(wire))


def test_models_are_causal(tiny_model):
    """Changing the future must not change earlier codes or earlier output samples."""
    spec, m = tiny_model
    hop = spec.hop_length
    x = 0.1 * torch.randn(1, 1, hop * 12)
    x2 = x.clone()
    x2[..., hop * 8 :] = 0.1 * torch.randn(1, 1, hop * 4)
    n = spec.default_n_codebooks
    c1, c2 = m.encode(x, n), m.encode(x2, n)
    assert torch.equal(c1[..., :8], c2[..., :8])
    c3 = c1.clone()
    c3[..., 8:] = (c3[..., 8:] + 1) % 2
    y1, y3 = m.decode(c1), m.decode(c3)
    torch.testing.assert_close(y1[..., : 8 * hop], y3[..., : 8 * hop])


def test_blocks_keep_shape_and_causality():
    x = torch.randn(1, 4, 64)
    for block in (MSRCAM(4, context=8).eval(), TCGRU(4).eval(), CausalConv1d(4, 4, 5, dilation=2)):
        y = block(x)
        assert y.shape == x.shape
        x2 = x.clone()
        x2[..., 40:] += 1.0
        torch.testing.assert_close(block(x2)[..., :40], y[..., :40])
    down = CausalConv1d(4, 8, 8, stride=4)
    up = CausalConvTranspose1d(8, 4, 4)
    assert down(x).shape == (1, 8, 16) and up(down(x)).shape == (1, 4, 64)


def test_one_training_step_lowers_the_loss():
    torch.manual_seed(0)
    spec = get_spec("mscacodec-nb")
    m = build_model(spec, {"preset": "tiny"}).train()
    opt = torch.optim.Adam(m.parameters(), 3e-3)
    t = torch.arange(1600) / 8000
    x = (0.3 * torch.sin(2 * torch.pi * 200 * t))[None, None].repeat(2, 1, 1)
    losses = []
    for _ in range(15):
        out = m(x, 3)
        loss = torch.mean(torch.abs(out.audio - x)) + out.commit_loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


def test_unknown_preset_is_refused():
    with pytest.raises(ValueError, match="preset"):
        build_model(get_spec("mscacodec-nb"), {"preset": "huge"})


def test_decoder_channels_widens_the_decoder_alone():
    spec = get_spec("mscacodec-nb")
    base = build_model(spec, {"preset": "tiny"})
    wide = build_model(spec, {"preset": "tiny", "decoder_channels": 4})
    enc_shapes = lambda m: {k: v.shape for k, v in m.state_dict().items() if not k.startswith("decoder.")}
    assert enc_shapes(base) == enc_shapes(wide)
    n_dec = lambda m: sum(p.numel() for p in m.decoder.parameters())
    assert n_dec(wide) > 2 * n_dec(base)
    assert wide.config["decoder_channels"] == 4
    with torch.inference_mode():
        codes = wide.eval().encode(torch.randn(1, 1, 3 * spec.hop_length), 3)
        assert wide.decode(codes).shape == (1, 1, 3 * spec.hop_length)


def test_decoder_channels_takes_per_stage_widths():
    spec = get_spec("mscacodec-nb")
    as_int = build_model(spec, {"preset": "tiny", "decoder_channels": 4})
    as_list = build_model(spec, {"preset": "tiny", "decoder_channels": [64, 32, 16, 8, 4]})
    assert as_int.decoder.widths == as_list.decoder.widths == [64, 32, 16, 8, 4]
    assert {k: v.shape for k, v in as_int.state_dict().items()} == {k: v.shape for k, v in as_list.state_dict().items()}
    slim = build_model(spec, {"preset": "tiny", "decoder_channels": [64, 32, 16, 3, 2]}).eval()
    assert slim.decoder.net[-1].in_channels == 2
    with torch.inference_mode():
        codes = slim.encode(torch.randn(1, 1, 3 * spec.hop_length), 3)
        assert slim.decode(codes).shape == (1, 1, 3 * spec.hop_length)
    with pytest.raises(ValueError, match="5 positive widths"):
        build_model(spec, {"preset": "tiny", "decoder_channels": [64, 32, 16, 8]})
