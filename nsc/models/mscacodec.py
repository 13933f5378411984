"""MSCACodec (Yu et al., "MSCACodec: A Low-rate Neural Speech Codec With Multi-scale
Residual Channel Attention"): causal conv encoder/decoder with four MSR-CAM blocks
and a TCGRU bottleneck, residual VQ with EMA k-means codebooks.

No public implementation exists; this one is built from the paper (sec. 2,
fig. 1-3, eq. 1-10). The paper gives no channel widths: the ``cpu`` preset
(default) is sized to train on 2 CPU cores and run far faster than real time
on one; the ``paper`` preset widens it for GPU training (latent 512 as in
sec. 3.2).

Config keys (all optional): ``preset`` ("cpu" | "paper" | "tiny"), ``channels``
(width of the first block), ``latent_dim``, ``bottleneck_hidden``,
``strides``. Tests use ``{"preset": "tiny"}`` (a few thousand parameters).
"""

from __future__ import annotations

from ..quantizers import ResidualVQ
from ..registry import CodecSpec
from .blocks import ConvDecoder, ConvEncoder
from .vqcodec import WaveformVQCodec

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
    preset = config.get("preset", "cpu")
    if preset not in PRESETS:
        raise ValueError(f"unknown MSCACodec preset {preset!r}; choose from {', '.join(PRESETS)}")
    cfg = {**PRESETS[preset], **config, "preset": preset}
    strides = tuple(cfg.get("strides") or _STRIDES[spec.hop_length])
    cfg["strides"] = list(strides)
    common = dict(channels=cfg["channels"], strides=strides, latent_dim=cfg["latent_dim"], block="msrcam",
                  bottleneck="tcgru", bottleneck_hidden=cfg["bottleneck_hidden"], sample_rate=spec.sample_rate)
    quantizer = ResidualVQ(cfg["latent_dim"], len(spec.codebook_sizes), tuple(spec.codebook_sizes))
    return WaveformVQCodec(ConvEncoder(**common), quantizer, ConvDecoder(**common), sample_rate=spec.sample_rate,
                           hop_length=spec.hop_length, n_codebooks_options=spec.n_codebooks_options, config=cfg)
