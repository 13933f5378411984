"""Residual vector quantization (SoundStream, Zeghidour et al. 2021, sec. 3.3, algorithm 1).

Stage q quantizes the residual left by stages < q; the quantized vector is the
sum of the stages' outputs. Quantizer dropout (SoundStream sec. 3.3) trains
one model for every bitrate: each training example uses only its first n_i
stages, n_i drawn at random, so decoding works from any prefix of the indices.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .codebook import EMACodebook

__all__ = ["QuantizerOutput", "ResidualVQ", "sample_n_codebooks"]


@dataclass
class QuantizerOutput:
    """Result of a quantizer's training forward.

    Attributes:
        quantized: float [B, D, F], straight-through to the input.
        codes: int64 [B, Q, F] indices of the Q codebooks used.
        commit_loss: scalar, sum over stages of the commitment losses.
    """

    quantized: Tensor
    codes: Tensor
    commit_loss: Tensor


def sample_n_codebooks(batch: int, options: tuple[int, ...], p_full: float = 0.5,
                       device: torch.device | None = None) -> Tensor:
    """Per-example codebook counts for quantizer dropout: int64 [B].

    With probability ``p_full`` an example keeps every codebook (the top
    option), else one of ``options`` is drawn uniformly (DAC's variant of
    SoundStream's quantizer dropout).
    """
    top = max(options)
    n = [top if random.random() < p_full else random.choice(options) for _ in range(batch)]
    return torch.tensor(n, dtype=torch.long, device=device)


class ResidualVQ(nn.Module):
    """RVQ with ``n_codebooks`` EMA codebooks of ``codebook_size`` entries over ``dim``-d vectors.

    Index layout: codes[:, q, f] is stage q's index at frame f; a prefix of
    stages is a valid lower-bitrate code.
    """

    def __init__(self, dim: int, n_codebooks: int, codebook_size: int | tuple[int, ...], decay: float = 0.99) -> None:
        super().__init__()
        sizes = codebook_size if isinstance(codebook_size, tuple) else (codebook_size,) * n_codebooks
        self.dim = dim
        self.codebook_sizes = sizes
        self.layers = nn.ModuleList(EMACodebook(dim, k, decay=decay) for k in sizes)

    @property
    def n_codebooks(self) -> int:
        """Number of stages."""
        return len(self.layers)

    def forward(self, x: Tensor, n_active: Tensor | int | None = None) -> QuantizerOutput:
        """Quantize float [B, D, F] in training.

        Args:
            x: latent vectors, float [B, D, F].
            n_active: int64 [B] per-example stage counts (quantizer dropout), an
                int for all examples, or None for every stage.

        Returns:
            :class:`QuantizerOutput`; codes hold every stage (stages beyond an
            example's count are computed but do not reach its output).
        """
        b, d, f = x.shape
        if n_active is None:
            n_active = self.n_codebooks
        if isinstance(n_active, int):
            n_active = torch.full((b,), n_active, dtype=torch.long, device=x.device)
        flat = x.permute(0, 2, 1).reshape(b * f, d)
        residual = flat
        out = torch.zeros_like(flat)
        codes, commit = [], x.new_zeros(())
        frame_n = n_active.repeat_interleave(f)
        for q, layer in enumerate(self.layers):
            active = frame_n > q  # every stage runs, so distributed codebook updates stay in step
            qv, idx, loss = layer(residual, active)
            w = active.to(flat.dtype)[:, None]
            out = out + qv.detach() * w
            residual = residual - qv.detach() * w
            commit = commit + loss
            codes.append(idx)
        # one straight-through estimator for the sum: the encoder gets the decoder's gradient once
        out = flat + (out - flat).detach()
        quantized = out.reshape(b, f, d).permute(0, 2, 1)
        return QuantizerOutput(quantized, torch.stack(codes, 1).reshape(b, f, -1).permute(0, 2, 1), commit)

    @torch.no_grad()
    def encode(self, x: Tensor, n_codebooks: int) -> Tensor:
        """float [B, D, F] -> int64 [B, n_codebooks, F] (greedy residual search)."""
        b, d, f = x.shape
        residual = x.permute(0, 2, 1).reshape(b * f, d)
        codes = []
        for layer in self.layers[:n_codebooks]:
            idx = layer.assign(residual)
            residual = residual - layer.lookup(idx).to(residual.dtype)
            codes.append(idx)
        return torch.stack(codes, 1).reshape(b, f, n_codebooks).permute(0, 2, 1)

    def decode(self, codes: Tensor) -> Tensor:
        """int64 [B, Q, F] (Q <= n_codebooks leading stages) -> float [B, D, F]."""
        out = 0
        for q in range(codes.shape[1]):
            out = out + self.layers[q].lookup(codes[:, q])
        return out.permute(0, 2, 1)
