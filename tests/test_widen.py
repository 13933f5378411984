"""Function-preserving widening of the MSR-CAM decoder (nsc.train.widen)."""

from __future__ import annotations

import pytest
import torch

from nsc.codec import build_model
from nsc.registry import get_spec
from nsc.train.widen import widen_decoder

SPEC = get_spec("mscacodec-nb")
OLD = [32, 16, 8, 8, 4]


def _model(seed: int = 0):
    torch.manual_seed(seed)
    model = build_model(SPEC, {"preset": "tiny", "decoder_channels": OLD})
    with torch.no_grad():  # trained-looking BatchNorm statistics, not the fresh 0 / 1
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm1d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
    return model.eval()


def _audio() -> torch.Tensor:
    return torch.randn(1, 1, 8 * SPEC.hop_length, generator=torch.Generator().manual_seed(1)) * 0.1


def _widened(model, widths):
    state, config = widen_decoder(model, SPEC, widths)
    wide = build_model(SPEC, config).eval()
    wide.load_state_dict(state, strict=True)
    return wide


@pytest.mark.parametrize("widths", [[32, 24, 12, 8, 4], [32, 16, 8, 8, 6], [32, 20, 9, 10, 5]])
def test_widened_decoder_gives_the_same_audio_and_codes(widths):
    model = _model()
    wide = _widened(model, widths)
    assert wide.decoder.widths == widths
    assert sum(p.numel() for p in wide.parameters()) > sum(p.numel() for p in model.parameters())
    x = _audio()
    with torch.inference_mode():
        codes = model.encode(x, 3)
        assert torch.equal(wide.encode(x, 3), codes)
        torch.testing.assert_close(wide.decode(codes), model.decode(codes), rtol=0, atol=1e-6)
    wide_state = wide.state_dict()
    for k, v in model.state_dict().items():
        if not k.startswith("decoder."):
            assert torch.equal(wide_state[k], v), k


def test_new_channels_learn_from_the_first_step():
    """The zero weights that read new channels get gradients at once (their inputs are non-zero)."""
    model = _model()
    wide = _widened(model, [32, 16, 8, 8, 6])
    out = wide.decoder.net[-1].weight  # [1, 6, 7]: columns 4 and 5 read the new channels, zero
    assert torch.count_nonzero(out[:, 4:]) == 0
    wide.train()
    wide(_audio()).audio.pow(2).mean().backward()
    assert torch.count_nonzero(out.grad[:, 4:]) > 0


def test_same_widths_change_nothing():
    model = _model()
    state, _ = widen_decoder(model, SPEC, OLD)
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())


@pytest.mark.parametrize("widths", [[32, 16, 8, 8, 2], [48, 16, 8, 8, 4], [32, 16, 8, 8]])
def test_bad_widths_are_refused(widths):
    with pytest.raises(ValueError):
        widen_decoder(_model(), SPEC, widths)


def _run_widen(*args: str):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "nsc.train.widen", *args], capture_output=True, text=True)


def _packaged_widths(grow_1khz: int = 0) -> list[int]:
    """The packaged mscacodec-nb's decoder widths, its 1 kHz stage grown by ``grow_1khz`` channels."""
    from nsc.weights import load_weights, weights_path

    widths = load_weights(weights_path("mscacodec-nb.safetensors"), verify=False)[1]["model"]["decoder_channels"]
    widths[2] += grow_1khz
    return widths


def _as_arg(widths: list) -> str:
    return ",".join(str(w) for w in widths)


def test_command_writes_the_wider_weights(tmp_path):
    from nsc.weights import load_weights, weights_path

    widths = _packaged_widths(grow_1khz=16)
    out = tmp_path / "wide.safetensors"
    r = _run_widen(str(weights_path("mscacodec-nb.safetensors")), "mscacodec-nb", "--widths", _as_arg(widths), "-o", str(out))
    assert r.returncode == 0, r.stderr
    state, config = load_weights(out, verify=False)
    assert config["model"]["decoder_channels"] == widths
    assert state["decoder.net.7.conv_s1.weight"].shape[0] == widths[2]  # the 1 kHz stage's MSR-CAM


@pytest.mark.parametrize("stage_width", ["narrower", "a"])
def test_command_bad_widths_one_line_error_and_nothing_written(tmp_path, stage_width):
    from nsc.weights import weights_path

    widths: list = _packaged_widths(grow_1khz=-16)
    if stage_width != "narrower":
        widths[2] = stage_width
    out = tmp_path / "wide.safetensors"
    r = _run_widen(str(weights_path("mscacodec-nb.safetensors")), "mscacodec-nb", "--widths", _as_arg(widths), "-o", str(out))
    assert r.returncode == 1
    assert r.stderr.startswith("error: ") and "Traceback" not in r.stderr
    assert not out.exists()


def test_command_refuses_to_overwrite(tmp_path):
    from nsc.weights import weights_path

    widths = _packaged_widths(grow_1khz=16)
    out = tmp_path / "wide.safetensors"
    out.write_bytes(b"keep me")
    r = _run_widen(str(weights_path("mscacodec-nb.safetensors")), "mscacodec-nb", "--widths", _as_arg(widths), "-o", str(out))
    assert r.returncode == 1 and "exists" in r.stderr
    assert out.read_bytes() == b"keep me"
