"""Split-residual vector quantization with a dual attention module (SRCodec, Zheng et al., ICASSP 2024).

No public code exists; this follows the abstract, read as:

1. split the latent x [B, D, F] into two halves of equal dimension, x_low and
   x_high (D / 2 channels each);
2. quantize x_low with the first codebook: q_low;
3. predict x_high from q_low with the dual attention module A (channel
   attention, then temporal attention, both causal), so the decoder can form
   the same prediction from the received index;
4. quantize the residual r = x_high - A(q_low) with the second codebook: q_r;
5. the quantized latent is [q_low, A(q_low) + q_r].

Codebooks: 512 + 1024 entries = 9 + 10 = 19 bits per 20 ms frame = 0.95 kbit/s
at 16 kHz, hop 320 (the paper's rate, honestly reached).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..models.blocks import CausalConv1d, CausalMovingAverage
from .codebook import EMACodebook
from .rvq import QuantizerOutput

__all__ = ["DualAttention", "SplitResidualVQ"]


class DualAttention(nn.Module):
    """Channel + temporal attention that maps q_low to a prediction of x_high.

    Channel attention: SE-style gates from a causal moving average of the
    features (squeeze over time, excitation over channels). Temporal attention:
    a sigmoid gate per frame from a causal conv over the channel-pooled
    [mean, max] map (CBAM's spatial attention, applied along time).
    Shapes: [B, C, F] -> [B, C, F].
    """

    def __init__(self, channels: int, reduction: int = 4, context: int = 25) -> None:
        super().__init__()
        hidden = max(1, channels // reduction)
        self.inp = CausalConv1d(channels, channels, 3)
        self.pool = CausalMovingAverage(context)
        self.channel = nn.Sequential(nn.Conv1d(channels, hidden, 1), nn.ReLU(), nn.Conv1d(hidden, channels, 1))
        self.temporal = CausalConv1d(2, 1, 7)
        self.out = nn.Sequential(nn.ELU(), CausalConv1d(channels, channels, 3))

    def forward(self, x: Tensor) -> Tensor:
        h = F.elu(self.inp(x))
        h = h * torch.sigmoid(self.channel(self.pool(h)))
        pooled = torch.cat([h.mean(1, keepdim=True), h.amax(1, keepdim=True)], dim=1)
        h = h * torch.sigmoid(self.temporal(pooled))
        return self.out(h)


class SplitResidualVQ(nn.Module):
    """SRVQ over ``dim``-d latents with codebooks of ``codebook_sizes`` = (low, residual) entries.

    Index layout: codes[:, 0] indexes the low half, codes[:, 1] the residual.

    Raises:
        ValueError: ``dim`` is odd.
    """

    #: greedy search only: :meth:`encode` refuses a ``beam_width`` > 1.
    supports_beam_search = False

    def __init__(self, dim: int, codebook_sizes: tuple[int, int] = (512, 1024), decay: float = 0.99) -> None:
        super().__init__()
        if dim % 2:
            raise ValueError(f"SRVQ splits the latent in two halves; dim {dim} is odd")
        half = dim // 2
        self.codebook_sizes = tuple(codebook_sizes)
        self.low = EMACodebook(half, codebook_sizes[0], decay=decay)
        self.residual = EMACodebook(half, codebook_sizes[1], decay=decay)
        self.attention = DualAttention(half)

    @property
    def n_codebooks(self) -> int:
        """Always 2."""
        return 2

    @staticmethod
    def _flat(x: Tensor) -> Tensor:
        return x.permute(0, 2, 1).reshape(-1, x.shape[1])

    @staticmethod
    def _unflat(v: Tensor, b: int, f: int) -> Tensor:
        return v.reshape(b, f, -1).permute(0, 2, 1)

    def forward(self, x: Tensor, n_active: Tensor | int | None = None) -> QuantizerOutput:
        """Training forward on float [B, D, F]; both codebooks are always used."""
        b, _, f = x.shape
        x_low, x_high = x.chunk(2, dim=1)
        q_low, i_low, c_low = self.low(self._flat(x_low))
        q_low = self._unflat(q_low, b, f)
        pred = self.attention(q_low)
        _, i_r, c_r = self.residual(self._flat(x_high - pred))
        # value pred + q_r; gradient reaches both the attention (through pred) and
        # the encoder's high half (straight-through on x_high)
        q_high = pred + self._unflat(self.residual.lookup(i_r), b, f).detach() + (x_high - x_high.detach())
        codes = torch.stack([i_low.reshape(b, f), i_r.reshape(b, f)], dim=1)
        return QuantizerOutput(torch.cat([q_low, q_high], dim=1), codes, c_low + c_r)

    @torch.no_grad()
    def encode(self, x: Tensor, n_codebooks: int = 2, beam_width: int = 1) -> Tensor:
        """float [B, D, F] -> int64 [B, 2, F].

        The search is greedy: the second codebook quantizes what the dual
        attention predicts from the first across frames, so the frames' choices
        are not independent and an M-best search per frame does not apply.

        Raises:
            ValueError: ``n_codebooks`` is not 2, or ``beam_width`` is not 1.
        """
        if n_codebooks != 2:
            raise ValueError("SRVQ always sends both codebooks")
        if beam_width != 1:
            raise ValueError("SRVQ's search is greedy only (beam width 1)")
        b, _, f = x.shape
        x_low, x_high = x.chunk(2, dim=1)
        i_low = self.low.assign(self._flat(x_low))
        q_low = self._unflat(self.low.lookup(i_low), b, f)
        i_r = self.residual.assign(self._flat(x_high - self.attention(q_low)))
        return torch.stack([i_low.reshape(b, f), i_r.reshape(b, f)], dim=1)

    def decode(self, codes: Tensor) -> Tensor:
        """int64 [B, 2, F] -> float [B, D, F]."""
        q_low = self.low.lookup(codes[:, 0]).permute(0, 2, 1)
        q_high = self.attention(q_low) + self.residual.lookup(codes[:, 1]).permute(0, 2, 1)
        return torch.cat([q_low, q_high], dim=1)
