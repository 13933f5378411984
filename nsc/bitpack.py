"""Fixed-width packing of codebook indices into bytes (pure numpy, no torch).

Layout (normative, see ``formats/nsc-container-v1.md`` section 4): indices are
written frame-major -- for each frame ``f``, codebook ``0 .. Q-1`` -- each as an
unsigned big-endian (MSB-first) field of exactly ``bits[q]`` bits, with no gaps.
The last byte is padded with zero bits.

Example: ``bits=(9, 10)``, one frame with indices ``(1, 3)`` gives the 19 bits
``000000001 0000000011`` + 5 zero bits -> ``00 80 60``.

Both directions are vectorised (about 16 bytes of scratch memory per index): an
hour at 2.4 kbit/s (180 000 frames x 6 codebooks, ~1 MB) packs or unpacks in
well under a second.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["MAX_BITS", "packed_size", "pack_bits", "unpack_bits"]

#: Widest index supported, in bits (codebooks of up to 65 536 entries).
MAX_BITS = 16

_SHIFTS = np.arange(MAX_BITS)  # column k of the bit matrix holds bit 15 - k of a uint16


def _check_bits(bits: Sequence[int]) -> tuple[int, ...]:
    bits = tuple(int(b) for b in bits)
    if not bits:
        raise ValueError("bits must name at least one codebook")
    for q, b in enumerate(bits):
        if not 1 <= b <= MAX_BITS:
            raise ValueError(f"bits[{q}] = {b} is outside 1..{MAX_BITS}")
    return bits


def packed_size(bits: Sequence[int], n_frames: int) -> int:
    """Bytes that ``n_frames`` frames occupy: ``ceil(n_frames * sum(bits) / 8)``.

    Raises:
        ValueError: a width is outside 1..16 or ``n_frames`` is negative.
    """
    bits = _check_bits(bits)
    if n_frames < 0:
        raise ValueError(f"n_frames must be >= 0, got {n_frames}")
    return (n_frames * sum(bits) + 7) // 8


def _field_mask(bits: tuple[int, ...], n_frames: int) -> np.ndarray:
    """bool [F*Q, 16]: True where a 16-bit column belongs to the index's ``bits[q]``-bit field."""
    widths = np.asarray(bits, dtype=np.int64)
    per_code = _SHIFTS[None, :] >= (MAX_BITS - widths)[:, None]  # [Q, 16]
    return np.tile(per_code, (n_frames, 1))


def pack_bits(codes: np.ndarray, bits: Sequence[int]) -> bytes:
    """Pack indices at fixed widths, frame-major, MSB-first.

    Args:
        codes: integer array [Q, F]; row q holds codebook q's index for each frame,
            each in ``0 .. 2**bits[q] - 1``.
        bits: Q widths in bits, each 1..16.
    Returns:
        ``ceil(F * sum(bits) / 8)`` bytes; the last byte is zero-padded.
    Raises:
        ValueError: ``codes`` is not a 2-D integer array with Q rows, or an index is
            negative or does not fit its width (the message names codebook and frame).
    """
    bits = _check_bits(bits)
    codes = np.asarray(codes)
    if codes.ndim != 2 or codes.shape[0] != len(bits):
        raise ValueError(f"codes must have shape [{len(bits)}, F], got {list(codes.shape)}")
    if codes.dtype.kind not in "iu":
        raise ValueError(f"codes must be an integer array, got dtype {codes.dtype}")
    n_frames = codes.shape[1]
    if n_frames == 0:
        return b""
    _check_range(codes, bits)
    values = np.ascontiguousarray(codes.T).astype(">u2")  # [F, Q], frame-major
    bit_matrix = np.unpackbits(values.view(np.uint8).reshape(-1, 2), axis=1)  # [F*Q, 16]
    stream = bit_matrix[_field_mask(bits, n_frames)]
    return np.packbits(stream).tobytes()


def _check_range(codes: np.ndarray, bits: tuple[int, ...]) -> None:
    limits = np.asarray([1 << b for b in bits], dtype=np.int64)[:, None]
    bad = (codes < 0) | (codes.astype(np.int64, copy=False) >= limits)
    if bad.any():
        q, f = (int(i[0]) for i in np.nonzero(bad))
        raise ValueError(
            f"index {int(codes[q, f])} at codebook {q}, frame {f} does not fit in {bits[q]} bits"
        )


def unpack_bits(data: bytes, bits: Sequence[int], n_frames: int) -> np.ndarray:
    """Inverse of :func:`pack_bits`.

    Args:
        data: exactly ``packed_size(bits, n_frames)`` bytes (padding bits are ignored).
        bits: Q widths in bits, each 1..16.
        n_frames: number of frames F encoded in ``data``.
    Returns:
        int64 [Q, F] indices.
    Raises:
        ValueError: ``data`` has the wrong length for ``bits`` and ``n_frames``.
    """
    bits = _check_bits(bits)
    expected = packed_size(bits, n_frames)
    if len(data) != expected:
        raise ValueError(
            f"{len(data)} bytes given, {n_frames} frames of {sum(bits)} bits need {expected}"
        )
    n_q = len(bits)
    if n_frames == 0:
        return np.zeros((n_q, 0), dtype=np.int64)
    stream = np.unpackbits(np.frombuffer(data, dtype=np.uint8), count=n_frames * sum(bits))
    bit_matrix = np.zeros((n_frames * n_q, MAX_BITS), dtype=np.uint8)
    bit_matrix[_field_mask(bits, n_frames)] = stream
    values = np.packbits(bit_matrix, axis=1).view(">u2").reshape(n_frames, n_q)
    return values.T.astype(np.int64)
