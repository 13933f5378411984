"""SRCodec (Zheng et al., ICASSP 2024, "SRCodec: Split-Residual Vector Quantization for
Neural Speech Codec"): fully convolutional encoder/decoder and split-residual VQ with
a dual attention module, 512 + 1024 entries = 19 bits per 20 ms = 0.95 kbit/s.

No public code exists; the quantizer follows the abstract as read in
:mod:`nsc.quantizers.srvq`. The encoder/decoder are nsc's shared causal
convolutional stacks with SoundStream residual units (no recurrent bottleneck:
"fully convolutional").

Config keys: ``preset`` ("cpu" | "paper" | "tiny"), ``channels``, ``latent_dim``.
"""

from __future__ import annotations

from ..quantizers import SplitResidualVQ
from ..registry import CodecSpec
from .vqcodec import WaveformVQCodec, build_waveform_codec

__all__ = ["build", "PRESETS"]

PRESETS: dict[str, dict] = {
    "tiny": {"channels": 2, "latent_dim": 8},
    "cpu": {"channels": 16, "latent_dim": 128},
    "paper": {"channels": 32, "latent_dim": 256},
}


def build(spec: CodecSpec, **config) -> WaveformVQCodec:
    """Build an SRCodec for ``spec`` (codebook_sizes = (low, residual)).

    Raises:
        ValueError: unknown preset, or a spec without exactly two codebooks.
    """
    if len(spec.codebook_sizes) != 2:
        raise ValueError("SRCodec needs exactly two codebooks (low half, residual)")
    return build_waveform_codec(
        spec, "SRCodec", PRESETS, config, block="resunit",
        make_quantizer=lambda cfg: SplitResidualVQ(cfg["latent_dim"], tuple(spec.codebook_sizes)),
    )
