"""Inference fusion (nsc.models.fuse): the same outputs as the trained blocks, on a copy, without touching the model."""

from __future__ import annotations

import pytest
import torch
from conftest import TINY

from nsc.codec import load_codec
from nsc.models.blocks import MSRCAM
from nsc.models.fuse import MERGE_CONVS_MAX_CHANNELS, FusedMSRCAM, fuse_for_inference


def _trained_like(block: MSRCAM, seed: int) -> MSRCAM:
    """Give a block's BatchNorms non-trivial statistics and affine terms, as training would."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for bn in (block.global_ctx[3], block.local_ctx[3]):
            bn.running_mean.copy_(torch.randn(bn.num_features, generator=g))
            bn.running_var.copy_(torch.rand(bn.num_features, generator=g) + 0.5)
            bn.weight.copy_(torch.randn(bn.num_features, generator=g))
            bn.bias.copy_(torch.randn(bn.num_features, generator=g))
        for conv in (block.conv_s1, block.conv_s2, block.conv_p1, block.conv_p2, block.fuse):
            conv.bias.copy_(0.1 * torch.randn(conv.bias.shape, generator=g))
    return block.eval()


@pytest.mark.parametrize("channels", [4, MERGE_CONVS_MAX_CHANNELS, MERGE_CONVS_MAX_CHANNELS + 1, 32])
def test_fused_msrcam_computes_the_block(channels):
    torch.manual_seed(channels)
    block = _trained_like(MSRCAM(channels, context=16), seed=channels)
    fused = FusedMSRCAM.from_block(block)
    assert fused.merged == (channels <= MERGE_CONVS_MAX_CHANNELS)  # branch convs merged when narrow
    x = torch.randn(2, channels, 300)
    with torch.no_grad():
        torch.testing.assert_close(fused(x), block(x), rtol=1e-4, atol=1e-5)
        # causal like the block: the first 100 outputs do not depend on what follows
        y = fused(torch.cat([x[..., :100], torch.randn(2, channels, 200)], dim=-1))
        torch.testing.assert_close(y[..., :100], block(x)[..., :100], rtol=1e-4, atol=1e-5)


def test_fusing_needs_eval_mode():
    with pytest.raises(ValueError, match="eval mode"):
        FusedMSRCAM.from_block(MSRCAM(8).train())


def test_fuse_for_inference_copies_and_keeps_the_model_as_trained():
    codec = load_codec("test-tiny", random_init=True, seed=5, config=TINY)
    model = codec.model.train()
    for m in model.modules():
        if isinstance(m, MSRCAM):
            _trained_like(m, seed=1).train()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    fused = fuse_for_inference(model)
    assert model.training and not fused.training
    assert sum(isinstance(m, MSRCAM) for m in model.modules()) == 8  # 4 in the encoder, 4 in the decoder
    assert not any(isinstance(m, MSRCAM) for m in fused.modules())
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in state.items())
    model.eval()
    x = torch.randn(1, 1, 8000)
    with torch.no_grad():
        codes = model.encode(x, 3)
        assert torch.equal(fused.encode(x, 3), codes)
        torch.testing.assert_close(fused.decode(codes), model.decode(codes), rtol=1e-4, atol=1e-5)


def test_codec_runs_the_fused_model_and_fingerprints_the_trained_one():
    # float32: the fusion alone (tests/test_precision.py covers the bfloat16 decoder of "auto")
    codec = load_codec("test-tiny", random_init=True, seed=6, config=TINY).with_precision("float32")
    fp = codec.fingerprint
    x = torch.randn(1, 1, 4000)
    codes = codec.encode(x, 3)
    assert codec.inference_model is not codec.model and codec.fingerprint == fp
    with torch.no_grad():
        assert torch.equal(codes, codec.model.encode(x, 3))
        torch.testing.assert_close(codec.decode(codes), codec.model.decode(codes).clamp(-1, 1), rtol=1e-4, atol=1e-5)
