"""Shared neural building blocks of the nsc codecs (all causal, all [B, C, T]).

Every codec family is assembled from these blocks so that no family copies
another's code:

* :class:`CausalConv1d` / :class:`CausalConvTranspose1d`: convolutions that never
  look at future samples, so encoding a long file chunk by chunk with left
  context gives the same result as encoding it whole.
* :class:`MSRCAM`: MSCACodec's multi-scale residual channel-attention module
  (Yu et al., MSCACodec, sec. 2.2, eq. 1-10).
* :class:`TCGRU`: MSCACodec's temporal-convolution + GRU bottleneck (sec. 2.3).
* :class:`ResidualUnit`: SoundStream/EnCodec dilated residual unit.
* :class:`MRFBlock`: HiFi-GAN's multi-receptive-field fusion block (Kong et al. 2020, sec. 2.1).
* :class:`ConvEncoder` / :class:`ConvDecoder`: the strided encoder/decoder
  skeleton shared by every waveform codec, parameterised by the block type.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "CausalConv1d",
    "CausalConvTranspose1d",
    "MSRCAM",
    "TCNBlock",
    "TCGRU",
    "ResidualUnit",
    "MRFBlock",
    "ConvEncoder",
    "ConvDecoder",
    "init_weights",
]


def init_weights(module: nn.Module) -> None:
    """Unit-gain initialisation: conv/linear weights N(0, 1/fan_in), zero biases.

    A calibration run found that PyTorch's default initialisation leaves the
    decoder output nearly independent of the codes early in training; a
    variance-preserving start avoids that (field notes, sec. 4).
    """
    for m in module.modules():
        if isinstance(m, (nn.Conv1d, nn.ConvTranspose1d, nn.Linear)):
            if isinstance(m, nn.ConvTranspose1d):
                # each output sample sees in_channels * kernel / stride weights
                c_in, _, k = m.weight.shape
                nn.init.normal_(m.weight, 0.0, (m.stride[0] / (c_in * k)) ** 0.5)
            else:
                nn.init.kaiming_normal_(m.weight, nonlinearity="linear")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    for m in module.modules():
        # residual branches start near identity so deep stacks keep unit gain
        if getattr(m, "residual_out", None) is not None:
            with torch.no_grad():
                m.residual_out.weight.mul_(0.1)


class CausalConv1d(nn.Conv1d):
    """1-D convolution padded on the left only, so output t sees inputs <= t.

    With ``stride`` s and input length T (a multiple of s), the output has T / s
    steps when ``kernel_size >= stride``. Shapes: [B, C_in, T] -> [B, C_out, T / s].

    The convolution pads both sides itself and the surplus outputs on the right
    are dropped: the same numbers as padding the input on the left first, without
    copying the input into a padded buffer (about 25 % of the time of a small
    codec on one CPU thread, ``benchmarks/profile_blocks.py``).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 dilation: int = 1, groups: int = 1, bias: bool = True) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, dilation=dilation,
                         groups=groups, bias=bias, padding=(kernel_size - 1) * dilation - (stride - 1))

    def forward(self, x: Tensor) -> Tensor:
        span = self.dilation[0] * (self.kernel_size[0] - 1) + 1
        n_out = (x.shape[-1] + self.padding[0] - span) // self.stride[0] + 1  # as if padded on the left only
        return super().forward(x)[..., :n_out]


class CausalConvTranspose1d(nn.ConvTranspose1d):
    """Transposed convolution trimmed on the right: [B, C_in, T] -> [B, C_out, T * stride].

    Output sample t depends only on input steps <= t // stride (causal upsampling).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int, kernel_size: int | None = None) -> None:
        kernel_size = kernel_size or 2 * stride
        super().__init__(in_channels, out_channels, kernel_size, stride=stride)
        self.trim = kernel_size - stride

    def forward(self, x: Tensor) -> Tensor:
        y = super().forward(x)
        return y[..., : y.shape[-1] - self.trim] if self.trim else y


class CausalMovingAverage(nn.Module):
    """Mean over the last ``window`` steps (fewer at the start): [B, C, T] -> [B, C, T].

    Stands in for the global average pooling g(.) of MSCACodec eq. 7, which a
    streaming causal codec cannot compute (it would need the whole utterance).
    """

    def __init__(self, window: int) -> None:
        super().__init__()
        self.window = window

    def forward(self, x: Tensor) -> Tensor:
        t = x.shape[-1]
        c = torch.cumsum(x, dim=-1)
        shifted = F.pad(c, (self.window, 0))[..., :t]
        count = torch.clamp(torch.arange(1, t + 1, device=x.device, dtype=x.dtype), max=self.window)
        return (c - shifted) / count


class MSRCAM(nn.Module):
    """Multi-scale residual channel-attention module (MSCACodec, sec. 2.2, eq. 1-10).

    Multi-scale residual part (eq. 1-6), two kernel sizes (3 and 5, as in the
    multi-scale residual network the paper builds on, since eq. 1-2 as printed
    share weights)::

        S1 = relu(conv_k3(M));  S2 = relu(conv_k5(M))                 (1, 2)
        P1 = relu(conv_k3'([S1, S2]));  P2 = relu(conv_k5'([S2, S1]))  (3, 4)
        I  = conv_1x1([P1, P2])                                        (5)
        F  = I + M                                                     (6)

    Channel-attention fusion (eq. 7-10), r = ``reduction``::

        G(F) = BN(PW2(relu(PW1(g(F)))));  L(F) = BN(PW2'(relu(PW1'(F))))
        S = sigmoid(G(F) + L(F));  Z = M * S + I * (1 - S)

    g(.) is a causal moving average over ``context`` steps instead of a global
    pool (see :class:`CausalMovingAverage`). Shapes: [B, C, T] -> [B, C, T].

    :attr:`CHANNEL_SPACES` names, per parameterised layer, the channel spaces of
    its output and input, for tools that resize a trained block
    (:mod:`nsc.train.prune`, :mod:`nsc.train.widen`).
    """

    #: layer -> (output space, input space); BatchNorms have only one. Spaces: ``m`` the
    #: block's width c (M, I, F, Z, S); ``s1``, ``s2`` c; ``p1``, ``p2`` 2c; ``hg``, ``hl`` the
    #: attention's hidden width max(1, c // reduction); concatenations ``s1s2`` = [S1, S2],
    #: ``s2s1`` = [S2, S1], ``p1p2`` = [P1, P2].
    CHANNEL_SPACES: dict[str, tuple[str, ...]] = {
        "conv_s1": ("s1", "m"), "conv_s2": ("s2", "m"),
        "conv_p1": ("p1", "s1s2"), "conv_p2": ("p2", "s2s1"),
        "fuse": ("m", "p1p2"),
        "global_ctx.0": ("hg", "m"), "global_ctx.2": ("m", "hg"), "global_ctx.3": ("m",),
        "local_ctx.0": ("hl", "m"), "local_ctx.2": ("m", "hl"), "local_ctx.3": ("m",),
    }

    @staticmethod
    def hidden_width(channels: int, reduction: int = 4) -> int:
        """The channel attention's hidden width (the ``hg``, ``hl`` spaces) for a block of ``channels``."""
        return max(1, channels // reduction)

    def __init__(self, channels: int, reduction: int = 4, context: int = 64) -> None:
        super().__init__()
        c = channels
        hidden = self.hidden_width(c, reduction)
        self.conv_s1 = CausalConv1d(c, c, 3)
        self.conv_s2 = CausalConv1d(c, c, 5)
        self.conv_p1 = CausalConv1d(2 * c, 2 * c, 3)
        self.conv_p2 = CausalConv1d(2 * c, 2 * c, 5)
        self.fuse = nn.Conv1d(4 * c, c, 1)
        self.pool = CausalMovingAverage(context)
        self.global_ctx = nn.Sequential(nn.Conv1d(c, hidden, 1), nn.ReLU(), nn.Conv1d(hidden, c, 1), nn.BatchNorm1d(c))
        self.local_ctx = nn.Sequential(nn.Conv1d(c, hidden, 1), nn.ReLU(), nn.Conv1d(hidden, c, 1), nn.BatchNorm1d(c))

    def forward(self, m: Tensor) -> Tensor:
        s1 = F.relu(self.conv_s1(m))
        s2 = F.relu(self.conv_s2(m))
        p1 = F.relu(self.conv_p1(torch.cat([s1, s2], dim=1)))
        p2 = F.relu(self.conv_p2(torch.cat([s2, s1], dim=1)))
        i = self.fuse(torch.cat([p1, p2], dim=1))
        f = i + m
        s = torch.sigmoid(self.global_ctx(self.pool(f)) + self.local_ctx(f))
        return m * s + i * (1.0 - s)


class TCNBlock(nn.Module):
    """Temporal convolution block (Bai et al. 2018; MSCACodec fig. 3a).

    1x1 conv in, causal depthwise dilated conv, 1x1 conv out, residual:
    [B, C, T] -> [B, C, T].
    """

    def __init__(self, channels: int, hidden: int, dilation: int, kernel_size: int = 3) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv1d(channels, hidden, 1),
            nn.PReLU(hidden),
            CausalConv1d(hidden, hidden, kernel_size, dilation=dilation, groups=hidden),
            nn.PReLU(hidden),
            nn.Conv1d(hidden, channels, 1),
        )
        self.residual_out = self.net[-1]

    def forward(self, x: Tensor) -> Tensor:
        return x + self.net(x)


class TCGRU(nn.Module):
    """Temporal-convolutional gated recurrent unit (MSCACodec, sec. 2.3, fig. 3b).

    Four stacked TCN blocks with dilations 1, 4, 5, 9, then a unidirectional GRU
    with a residual connection (it replaces EnCodec's two-layer LSTM):
    [B, C, T] -> [B, C, T].
    """

    def __init__(self, channels: int, hidden: int | None = None, dilations: tuple[int, ...] = (1, 4, 5, 9)) -> None:
        super().__init__()
        hidden = hidden or channels
        self.tcn = nn.Sequential(*[TCNBlock(channels, hidden, d) for d in dilations])
        self.gru = nn.GRU(channels, channels, batch_first=True)

    def forward(self, x: Tensor) -> Tensor:
        x = self.tcn(x)
        y, _ = self.gru(x.transpose(1, 2))
        return x + y.transpose(1, 2)


class ResidualUnit(nn.Module):
    """SoundStream/EnCodec residual unit: ELU, causal dilated conv k7, ELU, 1x1 conv, skip."""

    def __init__(self, channels: int, dilation: int = 1, kernel_size: int = 7) -> None:
        super().__init__()
        hidden = max(1, channels // 2)
        self.net = nn.Sequential(
            nn.ELU(), CausalConv1d(channels, hidden, kernel_size, dilation=dilation),
            nn.ELU(), nn.Conv1d(hidden, channels, 1),
        )
        self.residual_out = self.net[-1]

    def forward(self, x: Tensor) -> Tensor:
        return x + self.net(x)


class ResidualStack(nn.Sequential):
    """Residual units with dilations 1, 3, 9 (SoundStream encoder/decoder block)."""

    def __init__(self, channels: int, dilations: tuple[int, ...] = (1, 3, 9)) -> None:
        super().__init__(*[ResidualUnit(channels, d) for d in dilations])


class MRFBlock(nn.Module):
    """HiFi-GAN multi-receptive-field fusion (Kong et al. 2020, sec. 2.1), causal.

    Mean of residual branches with kernel sizes ``kernels``, each a chain of
    dilated convolutions (dilations 1, 3, 5): [B, C, T] -> [B, C, T].
    """

    def __init__(self, channels: int, kernels: tuple[int, ...] = (3, 7, 11), dilations: tuple[int, ...] = (1, 3, 5)) -> None:
        super().__init__()
        self.branches = nn.ModuleList(
            nn.ModuleList(
                nn.Sequential(nn.LeakyReLU(0.1), CausalConv1d(channels, channels, k, dilation=d),
                              nn.LeakyReLU(0.1), CausalConv1d(channels, channels, k))
                for d in dilations
            )
            for k in kernels
        )

    def forward(self, x: Tensor) -> Tensor:
        out = 0.0
        for branch in self.branches:
            y = x
            for layer in branch:
                y = y + layer(y)
            out = out + y
        return out / len(self.branches)


def make_block(kind: str, channels: int, context: int) -> nn.Module:
    """The per-resolution block of a :class:`ConvEncoder`/:class:`ConvDecoder`.

    ``"msrcam"`` (MSCACodec), ``"mrf"`` (HiFi-GAN), ``"resunit"`` (SoundStream).
    """
    if kind == "msrcam":
        return MSRCAM(channels, context=context)
    if kind == "mrf":
        return MRFBlock(channels)
    if kind == "resunit":
        return ResidualStack(channels)
    raise ValueError(f"unknown block kind {kind!r}")


class ConvEncoder(nn.Module):
    """Strided causal waveform encoder: [B, 1, T] -> [B, latent_dim, T / prod(strides)].

    Input conv (k7), then for each stride: block(C_i), ELU, strided causal conv
    C_i -> 2 C_i (kernel 2 s); then an optional TCGRU bottleneck and a k3
    projection to ``latent_dim``. With block ``"msrcam"`` and bottleneck
    ``"tcgru"`` this is the MSCACodec encoder (sec. 2.1, fig. 1).
    """

    def __init__(self, channels: int, strides: tuple[int, ...], latent_dim: int, block: str,
                 bottleneck: str = "none", bottleneck_hidden: int | None = None,
                 context_s: float = 0.25, sample_rate: int = 16000) -> None:
        super().__init__()
        layers: list[nn.Module] = [CausalConv1d(1, channels, 7)]
        c, rate = channels, sample_rate
        for s in strides:
            layers += [make_block(block, c, max(4, int(context_s * rate))), nn.ELU(), CausalConv1d(c, 2 * c, 2 * s, stride=s)]
            c, rate = 2 * c, rate // s
        if bottleneck == "tcgru":
            layers.append(TCGRU(c, bottleneck_hidden))
        layers += [nn.ELU(), CausalConv1d(c, latent_dim, 3)]
        self.net = nn.Sequential(*layers)
        self.out_channels = c

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class ConvDecoder(nn.Module):
    """Mirror of :class:`ConvEncoder`: [B, latent_dim, F] -> [B, 1, F * prod(strides)].

    k7 input conv to the widest width, optional TCGRU, then for each stride
    (reversed): ELU, causal transposed conv C_i -> C_(i+1), block(C_(i+1)); then
    ELU and a k7 output conv to one channel.

    ``channels`` is either the width of the last (highest-rate) block, doubled
    per stride towards the bottleneck like the encoder's, or a list of
    ``len(strides) + 1`` widths from the bottleneck down (e.g. ``[192, 96, 48,
    16, 8]``): per-stage widths keep the low-rate stages wide, where they are
    cheap, and the high-rate ones narrow, where each channel costs the most
    time (``benchmarks/profile_blocks.py``).

    Raises:
        ValueError: a width list of the wrong length or with a width below 1.
    """

    def __init__(self, channels: int | list[int], strides: tuple[int, ...], latent_dim: int, block: str,
                 bottleneck: str = "none", bottleneck_hidden: int | None = None,
                 context_s: float = 0.25, sample_rate: int = 16000) -> None:
        super().__init__()
        widths = decoder_widths(channels, len(strides))
        rate = sample_rate
        for s in strides:
            rate //= s
        c = widths[0]
        layers: list[nn.Module] = [CausalConv1d(latent_dim, c, 7)]
        if bottleneck == "tcgru":
            layers.append(TCGRU(c, bottleneck_hidden))
        for s, c_out in zip(reversed(strides), widths[1:]):
            rate *= s
            layers += [nn.ELU(), CausalConvTranspose1d(c, c_out, s), make_block(block, c_out, max(4, int(context_s * rate)))]
            c = c_out
        layers += [nn.ELU(), CausalConv1d(c, 1, 7)]
        self.net = nn.Sequential(*layers)
        self.widths = widths

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)


def decoder_widths(channels: int | list[int], n_strides: int) -> list[int]:
    """Per-stage widths of a :class:`ConvDecoder`, bottleneck first: ``len == n_strides + 1``.

    An int is the last stage's width, doubled per stride towards the bottleneck
    (``8, 4 strides -> [128, 64, 32, 16, 8]``); a list is returned as is.

    Raises:
        ValueError: a list of the wrong length or a width below 1.
    """
    if isinstance(channels, int):
        widths = [channels * 2 ** (n_strides - i) for i in range(n_strides + 1)]
    else:
        widths = [int(c) for c in channels]
    if len(widths) != n_strides + 1 or min(widths) < 1:
        raise ValueError(f"decoder widths {channels!r} must be {n_strides + 1} positive widths (bottleneck first) "
                         "or one int")
    return widths
