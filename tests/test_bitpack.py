"""Fixed-width index packing: layout, round trip, validation, speed."""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nsc.bitpack import MAX_BITS, pack_bits, packed_size, unpack_bits


def test_layout_is_frame_major_msb_first():
    # frame 0: codebooks (1, 3), frame 1: (2, 4) at 4 bits -> nibbles 1 3 2 4
    codes = np.array([[1, 2], [3, 4]])
    assert pack_bits(codes, (4, 4)) == bytes.fromhex("1324")


def test_mixed_widths_and_padding():
    # 000000001 0000000011 + 5 zero padding bits
    assert pack_bits(np.array([[1], [3]]), (9, 10)) == bytes.fromhex("008060")


def test_single_bit_codebook():
    codes = np.array([[1, 0, 1, 1, 0, 0, 0, 1, 1]])
    assert pack_bits(codes, (1,)) == bytes([0b10110001, 0b10000000])


def test_sixteen_bits_is_big_endian():
    assert pack_bits(np.array([[0xABCD]]), (16,)) == b"\xab\xcd"


def test_zero_frames():
    assert pack_bits(np.zeros((2, 0), dtype=np.int64), (3, 5)) == b""
    out = unpack_bits(b"", (3, 5), 0)
    assert out.shape == (2, 0) and out.dtype == np.int64


@st.composite
def bits_and_codes(draw):
    bits = tuple(draw(st.lists(st.integers(1, MAX_BITS), min_size=1, max_size=8)))
    n_frames = draw(st.integers(0, 64))
    mode = draw(st.sampled_from(["random", "zeros", "max"]))
    limits = np.array([1 << b for b in bits])[:, None]
    if mode == "zeros":
        codes = np.zeros((len(bits), n_frames), dtype=np.int64)
    elif mode == "max":
        codes = np.broadcast_to(limits - 1, (len(bits), n_frames)).copy()
    else:
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        codes = rng.integers(0, limits, size=(len(bits), n_frames))
    dtype = draw(st.sampled_from([np.int64, np.int32, np.uint16, np.uint32]))
    return bits, codes.astype(dtype)


@settings(max_examples=200, deadline=None)
@given(bits_and_codes())
def test_round_trip(case):
    bits, codes = case
    data = pack_bits(codes, bits)
    assert len(data) == packed_size(bits, codes.shape[1])
    out = unpack_bits(data, bits, codes.shape[1])
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out, codes)


@settings(max_examples=100, deadline=None)
@given(bits_and_codes())
def test_matches_naive_bit_string(case):
    bits, codes = case
    stream = "".join(
        format(int(codes[q, f]), f"0{bits[q]}b") for f in range(codes.shape[1]) for q in range(len(bits))
    )
    stream += "0" * (-len(stream) % 8)
    expected = bytes(int(stream[i : i + 8], 2) for i in range(0, len(stream), 8))
    assert pack_bits(codes, bits) == expected


@pytest.mark.parametrize(
    "codes, bits, match",
    [
        (np.array([[256]]), (8,), "index 256 at codebook 0, frame 0 does not fit in 8 bits"),
        (np.array([[0, -1]]), (8,), "index -1 at codebook 0, frame 1"),
        (np.array([[0], [8]]), (8, 3), "codebook 1, frame 0"),
        (np.array([1, 2]), (8,), "shape"),
        (np.zeros((2, 3), dtype=np.int64), (8,), "shape"),
        (np.zeros((1, 3)), (8,), "integer"),
        (np.zeros((1, 3), dtype=np.int64), (0,), "outside 1..16"),
        (np.zeros((1, 3), dtype=np.int64), (17,), "outside 1..16"),
        (np.zeros((0, 3), dtype=np.int64), (), "at least one"),
    ],
)
def test_pack_rejects(codes, bits, match):
    with pytest.raises(ValueError, match=match):
        pack_bits(codes, bits)


def test_unpack_rejects_wrong_length():
    with pytest.raises(ValueError, match="need 3"):
        unpack_bits(b"\x00\x00", (9, 10), 1)
    with pytest.raises(ValueError, match="need 3"):
        unpack_bits(b"\x00" * 4, (9, 10), 1)


def test_hour_at_2400bps_is_fast():
    """An hour of 6 x 8-bit codes at 50 frames/s (~1 MB) packs and unpacks quickly."""
    bits = (8,) * 6
    codes = np.random.default_rng(0).integers(0, 256, size=(6, 180_000))
    start = time.perf_counter()
    data = pack_bits(codes, bits)
    out = unpack_bits(data, bits, codes.shape[1])
    elapsed = time.perf_counter() - start
    assert len(data) == 1_080_000
    np.testing.assert_array_equal(out, codes)
    assert elapsed < 5.0  # ~0.2 s on one core; loose bound for a busy machine
