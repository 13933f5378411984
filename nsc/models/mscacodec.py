"""MSCACodec (Yu et al., "MSCACodec: A Low-rate Neural Speech Codec With Multi-scale
Residual Channel Attention"): causal conv encoder/decoder with four MSR-CAM blocks
and a TCGRU bottleneck, residual VQ with EMA k-means codebooks.

No public implementation exists; this one is built from the paper (sec. 2,
fig. 1-3, eq. 1-10). The paper gives no channel widths: the ``cpu`` preset
(default) is sized to train on 2 CPU cores and run far faster than real time
on one; the ``paper`` preset widens it for GPU training (latent 512 as in
sec. 3.2).

Config keys (all optional): ``preset`` ("cpu" | "paper" | "tiny"), ``channels``
(width of the first block), ``decoder_channels`` (the decoder's, default
``channels``; an int or per-stage widths, bottleneck first), ``latent_dim``, ``bottleneck_hidden``,
``strides``. Tests use ``{"preset": "tiny"}`` (a few thousand parameters).
"""

from __future__ import annotations

from ..quantizers import ResidualVQ
from ..registry import CodecSpec
from .vqcodec import WaveformVQCodec, build_waveform_codec

__all__ = ["build", "PRESETS"]

PRESETS: dict[str, dict] = {
    "tiny": {"channels": 2, "latent_dim": 8, "bottleneck_hidden": 8},
    "cpu": {"channels": 8, "latent_dim": 64, "bottleneck_hidden": 64},
    "paper": {"channels": 32, "latent_dim": 512, "bottleneck_hidden": 256},
}

_STRIDES = {160: (2, 4, 4, 5), 320: (2, 4, 5, 8)}


def build(spec: CodecSpec, **config) -> WaveformVQCodec:
    """Build an MSCACodec for ``spec`` (8 kHz / hop 160 or 16 kHz / hop 320).

    Raises:
        ValueError: unknown preset or a hop length with no stride plan.
    """
    return build_waveform_codec(
        spec, "MSCACodec", PRESETS, config, block="msrcam", bottleneck="tcgru",
        default_strides=_STRIDES.get(spec.hop_length, ()),
        make_quantizer=lambda cfg: ResidualVQ(cfg["latent_dim"], len(spec.codebook_sizes), tuple(spec.codebook_sizes)),
    )
