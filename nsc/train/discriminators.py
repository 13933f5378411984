"""Discriminators for adversarial codec training (MSCACodec sec. 2.4).

* :class:`MultiPeriodDiscriminator`: HiFi-GAN's MPD (Kong et al. 2020, sec. 2.2),
  periods 2, 3, 5, 7, 11: the waveform folded to [B, 1, T / p, p], 2-D convs.
* :class:`MultiScaleSTFTDiscriminator`: EnCodec's MS-STFT discriminator
  (Defossez et al. 2022, sec. 3.4): complex STFT (real, imag) at several
  resolutions, 2-D convs dilated along time, strided along frequency.

Both return (logits per sub-discriminator, feature maps per sub-discriminator).
``width`` scales the channels (the papers use 32; smaller trains faster on CPU).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["MultiPeriodDiscriminator", "MultiScaleSTFTDiscriminator", "Discriminators"]


class PeriodDiscriminator(nn.Module):
    """One MPD branch for period p: [B, 1, T] -> logits [B, 1, T', p] and features."""

    def __init__(self, period: int, width: int) -> None:
        super().__init__()
        self.period = period
        chans = [1, width, 4 * width, 16 * width, 32 * width]
        self.convs = nn.ModuleList(
            nn.Conv2d(chans[i], chans[i + 1], (5, 1), (3, 1), padding=(2, 0)) for i in range(4)
        )
        self.convs.append(nn.Conv2d(chans[-1], chans[-1], (5, 1), 1, padding=(2, 0)))
        self.out = nn.Conv2d(chans[-1], 1, (3, 1), 1, padding=(1, 0))

    def forward(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        b, c, t = x.shape
        if t % self.period:
            x = F.pad(x, (0, self.period - t % self.period), mode="reflect")
        h = x.view(b, c, -1, self.period)
        feats = []
        for conv in self.convs:
            h = F.leaky_relu(conv(h), 0.1)
            feats.append(h)
        return self.out(h), feats


class MultiPeriodDiscriminator(nn.Module):
    """HiFi-GAN multi-period discriminator."""

    def __init__(self, periods: tuple[int, ...] = (2, 3, 5, 7, 11), width: int = 16) -> None:
        super().__init__()
        self.discs = nn.ModuleList(PeriodDiscriminator(p, width) for p in periods)

    def forward(self, x: Tensor) -> tuple[list[Tensor], list[list[Tensor]]]:
        outs = [d(x) for d in self.discs]
        return [o[0] for o in outs], [o[1] for o in outs]


class STFTDiscriminator(nn.Module):
    """One MS-STFT branch: complex spectrogram [B, 2, frames, bins] through 2-D convs."""

    def __init__(self, n_fft: int, width: int) -> None:
        super().__init__()
        self.n_fft = n_fft
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        self.convs = nn.ModuleList([nn.Conv2d(2, width, (3, 9), padding=(1, 4))])
        for d in (1, 2, 4):
            self.convs.append(nn.Conv2d(width, width, (3, 9), stride=(1, 2), dilation=(d, 1), padding=(d, 4)))
        self.convs.append(nn.Conv2d(width, width, (3, 3), padding=(1, 1)))
        self.out = nn.Conv2d(width, 1, (3, 3), padding=(1, 1))

    def forward(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        spec = torch.stft(x.float().squeeze(1), self.n_fft, self.n_fft // 4, window=self.window, return_complex=True)
        h = torch.stack([spec.real, spec.imag], dim=1).transpose(2, 3)  # [B, 2, frames, bins]
        feats = []
        for conv in self.convs:
            h = F.leaky_relu(conv(h), 0.2)
            feats.append(h)
        return self.out(h), feats


class MultiScaleSTFTDiscriminator(nn.Module):
    """EnCodec MS-STFT discriminator; FFT sizes scaled to the sample rate (1024/512/256 at 24 kHz)."""

    def __init__(self, sample_rate: int, width: int = 16) -> None:
        super().__init__()
        scale = sample_rate / 24000
        ffts = [max(64, int(2 ** round(torch.log2(torch.tensor(n * scale)).item()))) for n in (2048, 1024, 512)]
        self.discs = nn.ModuleList(STFTDiscriminator(n, width) for n in ffts)

    def forward(self, x: Tensor) -> tuple[list[Tensor], list[list[Tensor]]]:
        outs = [d(x) for d in self.discs]
        return [o[0] for o in outs], [o[1] for o in outs]


class Discriminators(nn.Module):
    """MPD + MS-STFT together: logits and features of all sub-discriminators."""

    def __init__(self, sample_rate: int, width: int = 16) -> None:
        super().__init__()
        self.mpd = MultiPeriodDiscriminator(width=width)
        self.msstft = MultiScaleSTFTDiscriminator(sample_rate, width=2 * width)

    def forward(self, x: Tensor) -> tuple[list[Tensor], list[list[Tensor]]]:
        l1, f1 = self.mpd(x)
        l2, f2 = self.msstft(x)
        return l1 + l2, f1 + f2
