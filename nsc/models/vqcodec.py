"""The encoder -> vector quantizer -> decoder waveform codec shared by the VQ families.

MSCACodec, HiFi-Codec and SRCodec differ in their blocks and quantizer, not in
how those are wired; this module does the wiring once.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from .base import CodecModel, CodecOutput
from .blocks import ConvDecoder, ConvEncoder, init_weights

__all__ = ["WaveformVQCodec", "build_waveform_codec"]


class WaveformVQCodec(CodecModel):
    """Waveform codec: ``encoder`` [B,1,T] -> [B,D,F], ``quantizer``, ``decoder`` [B,D,F] -> [B,1,T].

    Args:
        encoder, decoder: modules with total stride ``hop_length``.
        quantizer: a ResidualVQ, GroupResidualVQ or SplitResidualVQ.
        sample_rate: Hz. hop_length: samples per frame.
        n_codebooks_options: counts that quantizer dropout trains for.
        config: the dict the model was built from (saved with the weights).
    """

    def __init__(self, encoder: nn.Module, quantizer: nn.Module, decoder: nn.Module, *, sample_rate: int,
                 hop_length: int, n_codebooks_options: tuple[int, ...], config: dict) -> None:
        super().__init__()
        self.encoder = encoder
        self.quantizer = quantizer
        self.decoder = decoder
        self.sample_rate = sample_rate
        self.hop_length = hop_length
        self.codebook_sizes = tuple(quantizer.codebook_sizes)
        self.n_codebooks_options = tuple(n_codebooks_options)
        self.config = dict(config)
        init_weights(self)

    def _check_n(self, n_codebooks: int) -> None:
        if n_codebooks not in self.n_codebooks_options:
            raise ValueError(f"n_codebooks must be one of {self.n_codebooks_options}, got {n_codebooks}")

    def encode(self, audio: Tensor, n_codebooks: int, beam_width: int = 1) -> Tensor:
        """float32 [B, 1, T] -> int64 [B, n_codebooks, ceil(T / hop_length)].

        ``beam_width`` > 1 searches the quantizer's stages jointly (M-best search).

        Raises:
            ValueError: an unoffered count, or a beam width the quantizer does not support.
        """
        self._check_n(n_codebooks)
        return self.quantizer.encode(self.encoder(self.pad_to_frames(audio)), n_codebooks, beam_width)

    def decode(self, codes: Tensor) -> Tensor:
        """int64 [B, Q, F] -> float32 [B, 1, F * hop_length]."""
        return self.decoder(self.quantizer.decode(codes))

    def forward(self, audio: Tensor, n_codebooks: Tensor | int | None = None) -> CodecOutput:
        """Training pass on float32 [B, 1, T] (T a multiple of hop_length).

        ``n_codebooks`` is an int, an int64 [B] of per-example counts
        (quantizer dropout), or None for all codebooks.
        """
        z = self.encoder(audio)
        with torch.autocast(device_type=z.device.type, enabled=False):  # codebooks stay float32
            q = self.quantizer(z.float(), n_codebooks)
        y = self.decoder(q.quantized)
        return CodecOutput(audio=y[..., : audio.shape[-1]], codes=q.codes, commit_loss=q.commit_loss,
                           codebook_loss=q.commit_loss.new_zeros(()))


#: Encoder/decoder backbones by name: (block kind, bottleneck).
BACKBONES = {"msrcam-tcgru": ("msrcam", "tcgru"), "mrf": ("mrf", "none"), "resunit": ("resunit", "none")}


def build_waveform_codec(spec, family: str, presets: dict[str, dict], config: dict, *, block: str,
                         make_quantizer, bottleneck: str = "none", default_strides: tuple[int, ...] = (2, 4, 5, 8)
                         ) -> WaveformVQCodec:
    """Assemble a family's codec: resolve the preset, build encoder/decoder and quantizer.

    Args:
        spec: the registry entry (sample rate, hop length, codebooks).
        family: name used in error messages.
        presets: named configs (``"cpu"`` is the default).
        config: user config; its keys override the preset's.
        block: per-resolution block kind of :class:`ConvEncoder` (``msrcam``, ``mrf``, ``resunit``).
        make_quantizer: ``f(cfg) -> quantizer`` given the resolved config.
        bottleneck: ``"tcgru"`` or ``"none"``.
        default_strides: strides when the config names none (their product must be the hop length).

    The config key ``decoder_channels`` (default: ``channels``) widens or narrows
    the decoder alone: its first-block width, doubled per stride like the
    encoder's, or a list of per-stage widths from the bottleneck down (see
    :class:`ConvDecoder`). The decoder turns a few hundred bits per second back
    into a waveform and is where a small codec runs out of capacity first.

    The config key ``backbone`` (``"msrcam-tcgru"``, ``"mrf"`` or ``"resunit"``)
    swaps the family's encoder/decoder blocks for another family's, so that
    quantizers can be compared on one backbone (the RVQ/GRVQ/SRVQ ablation).

    Raises:
        ValueError: unknown preset or backbone, strides whose product is not ``spec.hop_length``,
            or ``decoder_channels`` widths that do not match the strides.
    """
    preset = config.get("preset", "cpu")
    if preset not in presets:
        raise ValueError(f"unknown {family} preset {preset!r}; choose from {', '.join(presets)}")
    cfg = {**presets[preset], **config, "preset": preset}
    strides = tuple(cfg.get("strides") or default_strides)
    if math.prod(strides) != spec.hop_length:
        raise ValueError(f"strides {strides} do not multiply to the hop length {spec.hop_length}")
    cfg["strides"] = list(strides)
    if "backbone" in cfg:
        if cfg["backbone"] not in BACKBONES:
            raise ValueError(f"unknown backbone {cfg['backbone']!r}; choose from {', '.join(BACKBONES)}")
        block, bottleneck = BACKBONES[cfg["backbone"]]
    common = dict(channels=cfg["channels"], strides=strides, latent_dim=cfg["latent_dim"], block=block,
                  bottleneck=bottleneck, bottleneck_hidden=cfg.get("bottleneck_hidden"), sample_rate=spec.sample_rate)
    decoder = ConvDecoder(**{**common, "channels": cfg.get("decoder_channels") or cfg["channels"]})
    return WaveformVQCodec(ConvEncoder(**common), make_quantizer(cfg), decoder,
                           sample_rate=spec.sample_rate, hop_length=spec.hop_length,
                           n_codebooks_options=spec.n_codebooks_options, config=cfg)
