"""Inference-time reduced precision: the decoder's MSR-CAM blocks in bfloat16 where a CPU computes it natively.

On one CPU thread, most of ``mscacodec-nb``'s decode time goes to the
multi-scale convolutions (MSCACodec sec. 2.2, eq. 1-6) of its 250 Hz
(192-channel) and 1 kHz (64-channel) MSR-CAM blocks, which already run near the
core's float32 arithmetic peak (``benchmarks/profile_blocks.py``). A CPU with
native bfloat16 dot products (AVX512-BF16 or AMX, through oneDNN) runs the same
convolutions in about half the time, and the narrow blocks at 4 and 8 kHz
gain as much. :func:`lower_precision` makes every MSR-CAM block of the decoder
compute those convolutions in bfloat16; their residual paths, channel attention
and everything else stay float32, and so does the whole encoder, so a file's
codes never depend on the precision chosen. On one CPU thread (AMD EPYC,
AVX512-BF16), a 60 s file decoded 1.8x as fast with ``mscacodec-nb`` (74x against
42x real time, best of 3 side by side) and 1.7x with ``mscacodec-wb`` (39x
against 23x); on real speech the audio differs from float32's by about -53 dB (SNR 53 dB against float32's
output), far below the codec's own error.

Precision names (``nsc decode --precision``): ``"auto"`` (bfloat16 on a CPU
with native support, else float32), ``"float32"`` (as trained) and
``"bfloat16"`` (also where it is only emulated: slower there, for tests).
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import NscError
from .fuse import FusedMSRCAM

__all__ = ["PRECISIONS", "check_precision", "native_bfloat16", "resolve_precision", "lower_precision"]

PRECISIONS = ("auto", "float32", "bfloat16")


def check_precision(precision: str) -> str:
    """``precision`` itself when it is one of :data:`PRECISIONS`.

    Raises:
        NscError: it is not.
    """
    if precision not in PRECISIONS:
        raise NscError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    return precision


def native_bfloat16() -> bool:
    """Whether this CPU computes bfloat16 dot products natively (AVX512-BF16 or AMX tiles)."""
    cpu = getattr(torch, "cpu", None)
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    try:
        return any(getattr(cpu, name, lambda: False)() for name in checks)
    except RuntimeError:  # pragma: no cover - a build without these probes
        return False


def resolve_precision(precision: str, device: torch.device) -> torch.dtype:
    """The dtype a decoder's MSR-CAM blocks compute in: ``precision`` (one of :data:`PRECISIONS`) on ``device``.

    ``"auto"`` gives bfloat16 on a CPU with :func:`native_bfloat16`, float32 otherwise
    (CUDA included).

    Raises:
        NscError: ``precision`` is not one of :data:`PRECISIONS`.
    """
    if check_precision(precision) == "auto":
        return torch.bfloat16 if device.type == "cpu" and native_bfloat16() else torch.float32
    return torch.bfloat16 if precision == "bfloat16" else torch.float32


def lower_precision(model: nn.Module, dtype: torch.dtype = torch.bfloat16) -> int:
    """Make the fused MSR-CAM blocks of ``model.decoder`` compute in ``dtype``, in place.

    ``model`` is an inference copy (:func:`nsc.models.fuse.fuse_for_inference`):
    each :class:`~nsc.models.fuse.FusedMSRCAM` there computes its multi-scale
    convolutions in ``dtype`` (:meth:`~nsc.models.fuse.FusedMSRCAM.set_compute_dtype`);
    its output, [B, C, T], stays in the input's dtype. The encoder is untouched.
    Returns the number of blocks changed (0 for a model without a decoder,
    without fused blocks, or for float32).
    """
    decoder = getattr(model, "decoder", None)
    if decoder is None or dtype == torch.float32:
        return 0
    changed = 0
    for block in decoder.modules():
        if isinstance(block, FusedMSRCAM):
            block.set_compute_dtype(dtype)
            changed += 1
    return changed
