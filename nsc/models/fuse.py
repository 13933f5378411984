"""Inference-time fusion of trained blocks: the same outputs from fewer, larger operations.

A small codec on one CPU thread spends much of its time in per-operation
overhead and in copying tensors, not in arithmetic (``benchmarks/profile_blocks.py``).
:func:`fuse_for_inference` rewrites a trained, eval-mode model so that each
:class:`~nsc.models.blocks.MSRCAM` runs as a :class:`FusedMSRCAM`, which
computes the same function (to float32 rounding) with fewer calls. The
weights file, the fingerprint and everything trained are untouched: fusion
works on a copy, and training tools keep working on the model as trained.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .blocks import MSRCAM, CausalConv1d, CausalMovingAverage

__all__ = ["FusedMSRCAM", "fuse_for_inference", "MERGE_CONVS_MAX_CHANNELS"]

#: Widest block whose four branch convolutions are merged into two. Merging pads
#: the k3 kernels to k5 (a quarter more arithmetic) to save calls and concatenations:
#: on one CPU thread it made an 8-channel block at 8 kHz about a third faster, a
#: 16-channel one at 4 kHz no faster, and 64- and 128-channel ones slower (compute-bound).
MERGE_CONVS_MAX_CHANNELS = 8


def _fold_batchnorm(conv: nn.Conv1d, bn: nn.BatchNorm1d) -> tuple[Tensor, Tensor]:
    """Weight [C_out, C_in, k] and bias [C_out] of ``bn(conv(x))`` as one convolution (eval-mode statistics)."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
    return conv.weight * scale[:, None, None], (bias - bn.running_mean) * scale + bn.bias


def _conv(weight: Tensor, bias: Tensor, causal: bool = False) -> nn.Conv1d:
    """A convolution holding ``weight`` [C_out, C_in, k] and ``bias`` [C_out] (causal, or a plain 1x1)."""
    c_out, c_in, k = weight.shape
    conv = CausalConv1d(c_in, c_out, k) if causal else nn.Conv1d(c_in, c_out, k)
    with torch.no_grad():
        conv.weight.copy_(weight)
        conv.bias.copy_(bias)
    return conv


def _left_pad_kernel(weight: Tensor, k: int) -> Tensor:
    """A causal kernel [C_out, C_in, k0] as an equivalent k-tap one (zeros on the oldest taps)."""
    return F.pad(weight, (k - weight.shape[-1], 0))


class FusedMSRCAM(nn.Module):
    """:class:`~nsc.models.blocks.MSRCAM` (MSCACodec sec. 2.2, eq. 1-10) rearranged for inference.

    The same function of the same trained weights, [B, C, T] -> [B, C, T], computed with fewer operations:

    * channel attention (eq. 7-9): the two branches' first 1x1 convolutions
      run as one (the causal moving average g(.) is linear per channel, so it
      commutes with a 1x1 convolution and is applied to the global branch's
      hidden channels after it, C/4 channels instead of C); their second 1x1
      convolutions and BatchNorms fold into one 1x1 convolution on both
      branches' hidden channels, whose output is G(F) + L(F);
    * for blocks of at most :data:`MERGE_CONVS_MAX_CHANNELS` channels, also the
      multi-scale convolutions: conv_k3 and conv_k5 of eq. 1-2 as one causal k5
      convolution giving [S1, S2] (the k3 kernel padded with zeros on its
      oldest taps), and eq. 3-4 as one k5 convolution of [S1, S2] giving
      [P1, P2], conv_k5' taking its input halves swapped, which is eq. 5's input.

    Build it with :meth:`from_block`; it has no trainable use.
    """

    def __init__(self, branches: list[nn.Conv1d], fuse: nn.Conv1d, attn_in: nn.Conv1d, attn_out: nn.Conv1d,
                 pool: CausalMovingAverage) -> None:
        super().__init__()
        # [s, p] (merged: [S1, S2] and [P1, P2]) or [conv_s1, conv_s2, conv_p1, conv_p2] as trained
        self.branches = nn.ModuleList(branches)
        self.merged = len(branches) == 2
        self.fuse, self.attn_in, self.attn_out, self.pool = fuse, attn_in, attn_out, pool
        self.hidden = attn_out.in_channels // 2
        #: dtype of the multi-scale convolutions and their 1x1 fusion (eq. 1-6), the block's arithmetic;
        #: float32 as trained, or what :meth:`set_compute_dtype` set (:func:`nsc.models.precision.lower_precision`).
        self.compute_dtype = torch.float32

    @classmethod
    def from_block(cls, block: MSRCAM) -> "FusedMSRCAM":
        """Fuse a trained block (eval mode: its BatchNorms' running statistics are used).

        Raises:
            ValueError: ``block`` is in training mode.
        """
        if block.training:
            raise ValueError("fuse an MSRCAM in eval mode: its BatchNorms must use their running statistics")
        g, loc = block.global_ctx, block.local_ctx
        with torch.no_grad():
            attn_in = _conv(torch.cat([g[0].weight, loc[0].weight]), torch.cat([g[0].bias, loc[0].bias]))
            (wg, bg), (wl, bl) = _fold_batchnorm(g[2], g[3]), _fold_batchnorm(loc[2], loc[3])
            attn_out = _conv(torch.cat([wg, wl], dim=1), bg + bl)
            c = block.conv_s1.in_channels
            if c > MERGE_CONVS_MAX_CHANNELS:
                branches = [block.conv_s1, block.conv_s2, block.conv_p1, block.conv_p2]
                return cls(branches, block.fuse, attn_in, attn_out, block.pool)
            s = _conv(torch.cat([_left_pad_kernel(block.conv_s1.weight, 5), block.conv_s2.weight]),
                      torch.cat([block.conv_s1.bias, block.conv_s2.bias]), causal=True)
            w_p2 = block.conv_p2.weight
            w_p2 = torch.cat([w_p2[:, c:], w_p2[:, :c]], dim=1)  # reads [S1, S2] instead of [S2, S1]
            p = _conv(torch.cat([_left_pad_kernel(block.conv_p1.weight, 5), w_p2]),
                      torch.cat([block.conv_p1.bias, block.conv_p2.bias]), causal=True)
        return cls([s, p], block.fuse, attn_in, attn_out, block.pool)

    def set_compute_dtype(self, dtype: torch.dtype) -> None:
        """Compute the multi-scale convolutions and their 1x1 fusion (eq. 1-6) in ``dtype``, in place.

        Their weights are cast to ``dtype`` and :meth:`forward` casts its input to match;
        the residual path, the channel attention and the output stay in the input's dtype.
        """
        self.branches.to(dtype)
        self.fuse.to(dtype)
        self.compute_dtype = dtype

    def forward(self, m: Tensor) -> Tensor:
        x = m.to(self.compute_dtype)  # no copy when float32
        if self.merged:
            s, p = self.branches
            p1p2 = F.relu(p(F.relu(s(x))))  # [P1, P2]
        else:
            conv_s1, conv_s2, conv_p1, conv_p2 = self.branches
            s1, s2 = F.relu(conv_s1(x)), F.relu(conv_s2(x))
            p1p2 = torch.cat([F.relu(conv_p1(torch.cat([s1, s2], dim=1))),
                              F.relu(conv_p2(torch.cat([s2, s1], dim=1)))], dim=1)
        i = self.fuse(p1p2).to(m.dtype)  # the residual path and the attention stay in m's dtype
        f = i + m
        hidden = self.attn_in(f)  # [global branch's hidden, local branch's hidden]
        h = self.hidden
        hidden = torch.cat([self.pool(hidden[:, :h]), hidden[:, h:]], dim=1)
        s = torch.sigmoid(self.attn_out(F.relu(hidden)))  # sigmoid(G(F) + L(F))
        return m * s + i * (1.0 - s)


def fuse_for_inference(model: nn.Module) -> nn.Module:
    """A copy of ``model`` in eval mode with every MSRCAM replaced by a :class:`FusedMSRCAM`.

    ``model`` itself is left as it is (its state dict, fingerprint and training
    mode). Outputs agree with ``model.eval()``'s to float32 rounding. A model
    without MSR-CAM blocks comes back as an eval-mode copy.
    """
    fused = copy.deepcopy(model).eval()
    for parent in list(fused.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, MSRCAM):
                setattr(parent, name, FusedMSRCAM.from_block(child))
    return fused.requires_grad_(False)
