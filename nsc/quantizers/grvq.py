"""Group-residual vector quantization (HiFi-Codec, Yang et al. 2023, sec. 3.2).

The D latent channels are split into G groups of D / G channels; each group has
its own residual VQ of N stages. Index layout (stage-major, so that a prefix of
whole stages is a valid lower-bitrate code)::

    codes[:, s * G + g, f] = stage s of group g at frame f

For HiFi-Codec 16 kHz: G = 2, N = 2, 1024 entries -> 4 indices per frame.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .rvq import QuantizerOutput, ResidualVQ

__all__ = ["GroupResidualVQ"]


class GroupResidualVQ(nn.Module):
    """GRVQ with ``n_groups`` groups x ``n_stages`` stages of ``codebook_size`` entries.

    Args:
        dim: latent dimension D (divisible by ``n_groups``).
        n_groups: G.
        n_stages: N residual stages per group.
        codebook_size: entries per codebook.

    Raises:
        ValueError: D is not divisible by G.
    """

    #: :meth:`encode` takes a ``beam_width`` > 1 (M-best search within each group).
    supports_beam_search = True

    def __init__(self, dim: int, n_groups: int, n_stages: int, codebook_size: int, decay: float = 0.99) -> None:
        super().__init__()
        if dim % n_groups:
            raise ValueError(f"latent dim {dim} is not divisible into {n_groups} groups")
        self.n_groups = n_groups
        self.n_stages = n_stages
        self.codebook_sizes = (codebook_size,) * (n_groups * n_stages)
        self.groups = nn.ModuleList(ResidualVQ(dim // n_groups, n_stages, codebook_size, decay) for _ in range(n_groups))

    @property
    def n_codebooks(self) -> int:
        """G * N indices per frame."""
        return self.n_groups * self.n_stages

    def _stages(self, n_codebooks: int) -> int:
        if n_codebooks % self.n_groups:
            raise ValueError(f"GRVQ needs a multiple of {self.n_groups} codebooks, got {n_codebooks}")
        return n_codebooks // self.n_groups

    def _interleave(self, per_group: list[Tensor]) -> Tensor:
        # [B, N, F] per group -> [B, N * G, F] stage-major
        return torch.stack(per_group, dim=2).flatten(1, 2)

    def forward(self, x: Tensor, n_active: Tensor | int | None = None) -> QuantizerOutput:
        """Training forward on float [B, D, F]; ``n_active`` counts codebooks (multiples of G)."""
        if isinstance(n_active, Tensor):
            stages = torch.div(n_active, self.n_groups, rounding_mode="floor").clamp_min(1)
        elif n_active is None:
            stages = self.n_stages
        else:
            stages = self._stages(n_active)
        outs = [g(chunk, stages) for g, chunk in zip(self.groups, x.chunk(self.n_groups, dim=1))]
        return QuantizerOutput(
            torch.cat([o.quantized for o in outs], dim=1),
            self._interleave([o.codes for o in outs]),
            sum(o.commit_loss for o in outs),
        )

    @torch.no_grad()
    def encode(self, x: Tensor, n_codebooks: int, beam_width: int = 1) -> Tensor:
        """float [B, D, F] -> int64 [B, n_codebooks, F] (stage-major layout).

        ``beam_width`` > 1 searches each group's stages jointly (:func:`~nsc.quantizers.rvq.beam_search`).

        Raises:
            ValueError: ``n_codebooks`` is not a multiple of the group count, or ``beam_width`` < 1.
        """
        stages = self._stages(n_codebooks)
        chunks = x.chunk(self.n_groups, dim=1)
        return self._interleave([g.encode(c, stages, beam_width) for g, c in zip(self.groups, chunks)])

    def decode(self, codes: Tensor) -> Tensor:
        """int64 [B, Q, F] (Q a multiple of G) -> float [B, D, F]."""
        stages = self._stages(codes.shape[1])
        per = codes.reshape(codes.shape[0], stages, self.n_groups, codes.shape[-1])
        return torch.cat([g.decode(per[:, :, i]) for i, g in enumerate(self.groups)], dim=1)
