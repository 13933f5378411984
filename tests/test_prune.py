"""Structured pruning of the MSR-CAM decoder (nsc.train.prune)."""

from __future__ import annotations

import pytest
import torch

from nsc.codec import build_model
from nsc.registry import get_spec
from nsc.train.prune import prune_decoder

SPEC = get_spec("mscacodec-nb")


def _model(seed: int = 0):
    torch.manual_seed(seed)
    return build_model(SPEC, {"preset": "tiny", "decoder_channels": [32, 16, 8, 8, 4]}).eval()


def _clips(n: int = 2) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return [torch.randn(1, 1, 8 * SPEC.hop_length, generator=g) * 0.1 for _ in range(n)]


def test_pruned_state_loads_and_keeps_the_codes():
    model = _model()
    state, config = prune_decoder(model, [32, 16, 8, 4, 2], _clips())
    pruned = build_model(SPEC, config).eval()
    pruned.load_state_dict(state, strict=True)
    assert pruned.decoder.widths == [32, 16, 8, 4, 2]
    x = _clips(1)[0]
    with torch.inference_mode():
        codes = model.encode(x, 3)
        assert torch.equal(pruned.encode(x, 3), codes)
        assert pruned.decode(codes).shape == model.decode(codes).shape
    for k, v in model.state_dict().items():
        if not k.startswith("decoder.net.") or int(k.split(".")[2]) < 9:  # encoder, quantizer, stages kept whole
            assert torch.equal(state[k], v), k


def test_same_widths_change_nothing():
    model = _model()
    state, config = prune_decoder(model, model.decoder.widths, _clips())
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())


def test_dead_channel_is_the_one_dropped():
    model = _model()
    dec = model.decoder.net
    last_t, last_b, out = 12, 13, 15  # last transposed conv, last MSR-CAM, output conv
    with torch.no_grad():  # channel 1 of the last stage: never produced, never read
        dec[last_t].weight[:, 1] = 0
        dec[last_t].bias[1] = 0
        dec[last_b].conv_s1.weight[:, 1] = 0
        dec[last_b].conv_s2.weight[:, 1] = 0
        dec[out].weight[:, 1] = 0
    state, _ = prune_decoder(model, [32, 16, 8, 8, 3], _clips())
    kept = [0, 2, 3]
    assert torch.equal(state[f"decoder.net.{last_t}.weight"], dec[last_t].weight[:, kept])
    assert torch.equal(state[f"decoder.net.{out}.weight"], dec[out].weight[:, kept])


@pytest.mark.parametrize("widths", [[32, 16, 8, 8, 8], [16, 16, 8, 8, 4], [32, 16, 8, 4]])
def test_bad_widths_are_refused(widths):
    with pytest.raises(ValueError):
        prune_decoder(_model(), widths, _clips())
