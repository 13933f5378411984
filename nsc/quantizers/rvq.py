"""Residual vector quantization (SoundStream, Zeghidour et al. 2021, sec. 3.3, algorithm 1).

Stage q quantizes the residual left by stages < q; the quantized vector is the
sum of the stages' outputs. Quantizer dropout (SoundStream sec. 3.3) trains
one model for every bitrate: each training example uses only its first n_i
stages, n_i drawn at random, so decoding works from any prefix of the indices.

Encoding can search the stages jointly instead of greedily (:func:`beam_search`,
the M-best search of multi-stage VQ): the decoder is unchanged, so codes found
either way decode with the same weights.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .codebook import EMACodebook

__all__ = ["QuantizerOutput", "ResidualVQ", "beam_search", "sample_n_codebooks"]


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


def beam_search(codebooks: Sequence[Tensor], x: Tensor, beam_width: int) -> Tensor:
    """Residual (multi-stage) VQ indices of ``x`` by M-best search: int64 [N, Q].

    Greedy RVQ commits to the nearest entry at each stage. M-best search keeps
    the ``beam_width`` partial codes with the smallest residual energy after
    every stage, extends each by every entry of the next codebook and keeps
    the best ``beam_width`` again; the code returned has the least final error
    ``||x - sum_q c_q[i_q]||^2`` among those it kept. ``beam_width`` 1 is
    greedy RVQ; ``beam_width`` >= prod(sizes[:-1]) is exhaustive search.
    Source: LeBlanc, Bhattacharya, Mahmoud & Cuperman, "Efficient search and
    design procedures for robust multi-stage VQ of LPC parameters for 4 kb/s
    speech coding", IEEE Trans. Speech Audio Process. 1(4), 1993, sec. III
    (Codec2 searches its LSP VQ the same way, ``mbest.c``).

    Args:
        codebooks: Q codebooks, float [K_q, D] each, in stage order.
        x: float [N, D] vectors to quantize.
        beam_width: partial codes kept per vector (M), >= 1.

    Returns:
        int64 [N, Q]; row n's indices, stage order.

    Raises:
        ValueError: ``beam_width`` < 1 or no codebook given.
    """
    if beam_width < 1:
        raise ValueError(f"beam_width must be at least 1, got {beam_width}")
    if not codebooks:
        raise ValueError("beam_search needs at least one codebook")
    n, d = x.shape
    residual = x[:, None, :]  # [N, M, D], M partial codes per vector (1 to start)
    energy = residual.pow(2).sum(-1)  # [N, M]
    codes = x.new_zeros((n, 1, 0), dtype=torch.long)  # [N, M, q]
    for e in codebooks:
        e = e.to(x.dtype)
        k = e.shape[0]
        m = residual.shape[1]
        # ||r - c||^2 for every kept residual r and entry c: [N, M, K]
        err = energy[:, :, None] - 2 * residual @ e.t() + e.pow(2).sum(1)[None, None, :]
        best = err.reshape(n, m * k).topk(min(beam_width, m * k), dim=1, largest=False, sorted=True)
        parent, entry = best.indices // k, best.indices % k
        residual = torch.gather(residual, 1, parent[..., None].expand(-1, -1, d)) - e[entry]
        energy = best.values
        codes = torch.cat([torch.gather(codes, 1, parent[..., None].expand(-1, -1, codes.shape[2])),
                           entry[..., None]], dim=2)
    return codes[:, 0]  # sorted: the first kept code has the least error


class ResidualVQ(nn.Module):
    """RVQ with ``n_codebooks`` EMA codebooks of ``codebook_size`` entries over ``dim``-d vectors.

    Index layout: codes[:, q, f] is stage q's index at frame f; a prefix of
    stages is a valid lower-bitrate code.
    """

    #: :meth:`encode` takes a ``beam_width`` > 1 (M-best search).
    supports_beam_search = True

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
    def encode(self, x: Tensor, n_codebooks: int, beam_width: int = 1) -> Tensor:
        """float [B, D, F] -> int64 [B, n_codebooks, F].

        ``beam_width`` 1 is greedy residual search (what training does);
        more searches the ``n_codebooks`` stages jointly (:func:`beam_search`),
        for a smaller quantization error at the same bitrate. Codes found with
        a beam are best for their own ``n_codebooks``: their prefixes still
        decode, but are not those of a shorter search.

        Raises:
            ValueError: ``beam_width`` < 1.
        """
        b, d, f = x.shape
        residual = x.permute(0, 2, 1).reshape(b * f, d)
        if beam_width != 1:
            books = [layer.embed for layer in self.layers[:n_codebooks]]
            return beam_search(books, residual, beam_width).reshape(b, f, n_codebooks).permute(0, 2, 1)
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
