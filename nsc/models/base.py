"""The contract every nsc codec model fulfils.

A codec model maps mono audio at ``sample_rate`` to integer codes at
``frame_rate = sample_rate / hop_length`` frames per second and back. The
``n_codebooks`` leading codebooks that a caller asks for set the bitrate:
``bitrate = frame_rate * sum(log2(codebook_sizes[:n_codebooks]))`` bit/s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

__all__ = ["CodecModel", "CodecOutput"]


@dataclass
class CodecOutput:
    """What a training forward pass returns.

    Attributes:
        audio: float32 [B, 1, T] reconstruction, same length as the input.
        codes: int64 [B, Q, F] indices used (Q = codebooks active in this pass).
        commit_loss: scalar commitment loss (VQ-VAE eq. 3 beta term), summed over stages.
        codebook_loss: scalar codebook loss (zero for EMA codebooks, which learn without gradients).
        extra: further named scalar losses a model adds (logged, already in the sum it wants).
    """

    audio: Tensor
    codes: Tensor
    commit_loss: Tensor
    codebook_loss: Tensor
    extra: dict[str, Tensor] = field(default_factory=dict)


class CodecModel(nn.Module):
    """Base class of the codec models: fixed rates and the encode/decode contract.

    Subclasses set ``sample_rate`` (Hz), ``hop_length`` (samples per frame) and
    ``codebook_sizes`` (entries of each codebook, in transmission order, each a
    power of two) and implement :meth:`encode`, :meth:`decode` and :meth:`forward`.
    """

    sample_rate: int
    hop_length: int
    codebook_sizes: tuple[int, ...]

    @property
    def frame_rate(self) -> float:
        """Frames per second (Hz)."""
        return self.sample_rate / self.hop_length

    @property
    def n_codebooks(self) -> int:
        """The largest number of codebooks the model can use."""
        return len(self.codebook_sizes)

    def bits_per_codebook(self, n_codebooks: int | None = None) -> tuple[int, ...]:
        """Bits of each of the first ``n_codebooks`` indices (log2 of the codebook size)."""
        n = self.n_codebooks if n_codebooks is None else n_codebooks
        return tuple(int(math.log2(s)) for s in self.codebook_sizes[:n])

    def bitrate_kbps(self, n_codebooks: int) -> float:
        """Payload bitrate in kbit/s when ``n_codebooks`` codebooks are sent."""
        return self.frame_rate * sum(self.bits_per_codebook(n_codebooks)) / 1000.0

    def n_frames(self, n_samples: int) -> int:
        """Frames produced for ``n_samples`` samples: ceil(n_samples / hop_length), at least 1."""
        return max(1, -(-n_samples // self.hop_length))

    def pad_to_frames(self, audio: Tensor) -> Tensor:
        """Right-pad float [B, 1, T] with zeros to a whole number of frames."""
        t = audio.shape[-1]
        target = self.n_frames(t) * self.hop_length
        if target == t:
            return audio
        return torch.nn.functional.pad(audio, (0, target - t))

    def encode(self, audio: Tensor, n_codebooks: int, beam_width: int = 1) -> Tensor:  # pragma: no cover - abstract
        """Map audio to indices.

        Args:
            audio: float32 [B, 1, T] in [-1, 1] at ``sample_rate`` Hz; T need not
                be a multiple of ``hop_length`` (it is zero-padded).
            n_codebooks: how many leading codebooks to emit, 1..``n_codebooks``.
            beam_width: partial codes the quantizer's search keeps per frame
                (1: greedy, as in training; see :func:`nsc.quantizers.rvq.beam_search`).

        Returns:
            int64 [B, n_codebooks, F], F = ceil(T / hop_length); row q holds
            indices in [0, codebook_sizes[q]).
        """
        raise NotImplementedError

    def decode(self, codes: Tensor) -> Tensor:  # pragma: no cover - abstract
        """Map indices back to audio.

        Args:
            codes: int64 [B, Q, F] with Q <= ``n_codebooks`` leading codebooks.

        Returns:
            float32 [B, 1, F * hop_length] at ``sample_rate`` Hz.
        """
        raise NotImplementedError

    def forward(self, audio: Tensor, n_codebooks: int | None = None) -> CodecOutput:  # pragma: no cover
        """Training pass: encode, quantize (straight-through), decode; returns losses too."""
        raise NotImplementedError
