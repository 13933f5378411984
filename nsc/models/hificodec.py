"""HiFi-Codec (Yang et al. 2023, "HiFi-Codec: Group-residual Vector Quantization for
High Fidelity Audio Codec"): HiFi-GAN-style encoder/decoder with multi-receptive-field
fusion blocks, group-residual VQ (2 groups x 2 stages x 1024 entries = 2 kbit/s at
16 kHz, hop 320, strides 2, 4, 5, 8 as in AcademiCodec's 16 kHz config).

Built from nsc's shared blocks (:class:`~nsc.models.blocks.MRFBlock`), causal
throughout (the original is non-causal; causality keeps chunked inference
seamless). The original is a ~64 M-parameter model with a 512-d latent: that is
the ``paper`` preset; the default ``cpu`` preset trains on CPU.

Config keys: ``preset`` ("cpu" | "paper" | "tiny"), ``channels``, ``latent_dim``.
"""

from __future__ import annotations

from ..quantizers import GroupResidualVQ
from ..registry import CodecSpec
from .vqcodec import WaveformVQCodec, build_waveform_codec

__all__ = ["build", "PRESETS"]

PRESETS: dict[str, dict] = {
    "tiny": {"channels": 2, "latent_dim": 8},
    "cpu": {"channels": 8, "latent_dim": 128},
    "paper": {"channels": 32, "latent_dim": 512},
}


def build(spec: CodecSpec, **config) -> WaveformVQCodec:
    """Build a HiFi-Codec for ``spec`` (4 codebooks: 2 groups x 2 stages).

    Raises:
        ValueError: unknown preset.
    """
    n_groups = 2
    return build_waveform_codec(
        spec, "HiFi-Codec", PRESETS, config, block="mrf",
        make_quantizer=lambda cfg: GroupResidualVQ(cfg["latent_dim"], n_groups, len(spec.codebook_sizes) // n_groups,
                                                   spec.codebook_sizes[0]),
    )
