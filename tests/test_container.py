"""The .nsc container: golden bytes, round trips, every kind of damage, salvage, overhead."""

from __future__ import annotations

import dataclasses
import importlib.util
import io
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nsc import container
from nsc.container import (
    DEFAULT_FRAMES_PER_PACKET,
    HEADER,
    HEADER_BODY,
    LOST,
    PACKET,
    Header,
    Writer,
    codec_length,
    file_bitrate_bps,
    file_size,
    header_size,
    inspect,
    iter_packets,
    n_frames,
    overhead,
    pack,
    packet_spans,
    payload_bitrate_bps,
    payload_size,
    read_header,
    salvage,
    unpack,
)
from nsc.errors import FormatError

DATA = Path(__file__).parent / "data"


def _load_golden_module():
    spec = importlib.util.spec_from_file_location("make_golden", DATA / "make_golden.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GOLDEN = _load_golden_module().golden_cases()


def make_header(seconds: float = 10.0, **overrides) -> Header:
    """mscacodec-nb at 1.2 kbit/s (8 kHz, hop 160, 3 x 8 bits), ``seconds`` of 8 kHz input."""
    fields = dict(
        codec_id=1, fingerprint=bytes(range(8)), sample_rate=8000, input_sample_rate=8000,
        input_channels=1, n_samples=int(seconds * 8000), hop_length=160, bits=(8, 8, 8),
        bitrate_bps=1200,
    )
    fields.update(overrides)
    return Header(**fields)


def random_codes(header: Header, seed: int = 0) -> np.ndarray:
    limits = np.array([1 << b for b in header.bits])[:, None]
    return np.random.default_rng(seed).integers(0, limits, size=(header.n_codebooks, header.n_frames))


def raw_header(
    header: Header, *, major: int = 1, minor: int = 0, extension: bytes = b"", patch: dict | None = None, **body
) -> bytes:
    """Header bytes built straight from the construct structs, with any field forced.

    ``patch`` maps body byte offsets to values written after building (for fields the
    struct rebuilds, such as ``n_codebooks``); the CRC covers the patched body.
    """
    fields = dict(
        codec_id=header.codec_id, payload_kind=header.payload_kind, fingerprint=header.fingerprint,
        sample_rate=header.sample_rate, input_sample_rate=header.input_sample_rate,
        input_channels=header.input_channels, frames_per_packet=header.frames_per_packet,
        hop_length=header.hop_length, bitrate_bps=header.bitrate_bps, n_samples=header.n_samples,
        bits=list(header.bits), extension=extension,
    )
    fields.update(body)
    body_bytes = bytearray(HEADER_BODY.build(fields))
    for offset, value in (patch or {}).items():
        body_bytes[offset] = value
    preamble = dict(version_major=major, version_minor=minor)
    return HEADER.build(
        dict(signed=dict(value=dict(preamble=preamble, body=bytes(body_bytes))), header_crc=None)
    )


# --- golden files ----------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_golden_bytes(name):
    header, codes = GOLDEN[name]
    data = (DATA / name).read_bytes()
    assert data == pack(header, codes)
    got_header, got_codes = unpack(data)
    assert got_header == header
    assert got_codes.dtype == np.int64
    np.testing.assert_array_equal(got_codes, codes)


def test_golden_files_all_listed():
    assert sorted(p.name for p in DATA.glob("*.nsc")) == sorted(GOLDEN)


def test_golden_header_layout():
    data = (DATA / "nb-1200bps-3packets.nsc").read_bytes()
    assert data[:8] == b"NSCF\x01\x00\x00\x37"
    assert len(data) == 55 + 3 * 6 + 12 + 12 + 6
    assert PACKET.parse(data[55:73]).signed.value.payload == bytes.fromhex("052a4f10355a1b4065264b70")


# --- derived quantities ----------------------------------------------------------------


def test_frame_count_helpers():
    h = make_header(10.0)
    assert h.frame_rate == 50.0
    assert h.duration_s == 10.0
    assert codec_length(h) == h.codec_length == 80_000
    assert n_frames(h) == h.n_frames == 500
    assert h.n_packets == 3
    assert header_size(h) == 55
    assert [s.n_frames for s in packet_spans(h)] == [200, 200, 100]


@pytest.mark.parametrize(
    "n_samples, input_rate, expected_length, expected_frames",
    [
        (0, 8000, 0, 1),  # empty input still has one frame
        (1, 8000, 1, 1),
        (160, 8000, 160, 1),
        (161, 8000, 161, 2),
        (3100, 16000, 1550, 10),
        (3, 16000, 2, 1),  # 1.5 rounds half up
        (44100, 44100, 8000, 50),
        (5788, 44100, 1050, 7),  # 1049.98 -> 1050 at 8 kHz
    ],
)
def test_codec_length_rounds_half_up(n_samples, input_rate, expected_length, expected_frames):
    h = make_header(n_samples=n_samples, input_sample_rate=input_rate)
    assert codec_length(h) == expected_length
    assert n_frames(h) == expected_frames


def test_header_coerces_and_validates():
    h = make_header(bits=[8, np.int64(8), 8], n_samples=np.uint64(80))
    assert h.bits == (8, 8, 8) and type(h.n_samples) is int
    assert hash(h) == hash(make_header(n_samples=80))


@pytest.mark.parametrize(
    "overrides, match",
    [
        (dict(bits=()), "n_codebooks"),
        (dict(bits=(8, 0)), r"bits\[1\] = 0"),
        (dict(bits=(17,)), r"bits\[0\] = 17"),
        (dict(fingerprint=b"short"), "fingerprint"),
        (dict(sample_rate=0), "sample_rate"),
        (dict(hop_length=0), "hop_length"),
        (dict(input_channels=0), "input_channels"),
        (dict(n_samples=-1), "n_samples"),
        (dict(codec_id=70000), "codec_id"),
        (dict(frames_per_packet=0), "frames_per_packet"),
        (dict(sample_rate=8000.5), "sample_rate must be an integer"),
        (dict(bits=(8, 8.0)), "bits must be an integer"),
        (dict(bits=(16,) * 10, frames_per_packet=5000), "packet limit"),
    ],
)
def test_bad_header_values(overrides, match):
    with pytest.raises(ValueError, match=match):
        make_header(**overrides)


# --- round trips -----------------------------------------------------------------------


@st.composite
def headers(draw) -> Header:
    sample_rate = draw(st.sampled_from([8000, 16000, 24000]) | st.integers(1, 2**32 - 1))
    input_rate = draw(st.sampled_from([8000, 16000, 44100, 48000]) | st.integers(1, 2**32 - 1))
    hop = draw(st.integers(1, 2000))
    frames = draw(st.integers(1, 120))
    max_samples = frames * hop * input_rate // sample_rate
    bits = tuple(draw(st.lists(st.integers(1, 16), min_size=1, max_size=8)))
    return Header(
        codec_id=draw(st.integers(0, 2**16 - 1)),
        fingerprint=draw(st.binary(min_size=8, max_size=8)),
        sample_rate=sample_rate,
        input_sample_rate=input_rate,
        input_channels=draw(st.integers(1, 2**16 - 1)),
        n_samples=draw(st.integers(0, max_samples)),
        hop_length=hop,
        bits=bits,
        bitrate_bps=draw(st.integers(0, 2**32 - 1)),
        frames_per_packet=draw(st.integers(1, 50) | st.just(DEFAULT_FRAMES_PER_PACKET)),
    )


@st.composite
def headers_and_codes(draw):
    header = draw(headers())
    limits = np.array([1 << b for b in header.bits])[:, None]
    shape = (header.n_codebooks, header.n_frames)
    mode = draw(st.sampled_from(["random", "max", "zeros"]))
    if mode == "max":
        codes = np.broadcast_to(limits - 1, shape).copy()
    elif mode == "zeros":
        codes = np.zeros(shape, dtype=np.int64)
    else:
        codes = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).integers(0, limits, size=shape)
    return header, codes


@settings(max_examples=150, deadline=None)
@given(headers_and_codes())
def test_pack_unpack_round_trip(case):
    header, codes = case
    data = pack(header, codes)
    assert len(data) == file_size(header)
    got_header, got_codes = unpack(data)
    assert got_header == header
    np.testing.assert_array_equal(got_codes, codes)
    assert inspect(data).ok


@settings(max_examples=100, deadline=None)
@given(headers_and_codes(), st.data())
def test_streaming_writer_and_reader_equal_pack(case, data):
    header, codes = case
    cuts = sorted(data.draw(st.lists(st.integers(0, header.n_frames), max_size=6)))
    out = io.BytesIO()
    with Writer(out, header) as writer:
        for lo, hi in zip([0, *cuts], [*cuts, header.n_frames]):
            writer.write_frames(codes[:, lo:hi])
    assert out.getvalue() == pack(header, codes)
    assert writer.bytes_written == len(out.getvalue())

    stream = io.BytesIO(out.getvalue())
    assert read_header(stream) == header
    chunks = []
    for expected_index, (index, chunk) in enumerate(iter_packets(stream, header)):
        assert index == expected_index
        assert chunk.shape[1] == min(header.frames_per_packet, header.n_frames - len(chunks) * header.frames_per_packet)
        chunks.append(chunk)
    np.testing.assert_array_equal(np.concatenate(chunks, axis=1), codes)


def test_writer_emits_packets_as_frames_arrive():
    header = make_header(10.0)
    out = io.BytesIO()
    writer = Writer(out, header)
    assert len(out.getvalue()) == 55
    codes = random_codes(header)
    writer.write_frames(codes[:, :199])
    assert len(out.getvalue()) == 55
    writer.write_frames(codes[:, 199:201])
    assert len(out.getvalue()) == 55 + 6 + 600
    writer.write_frames(codes[:, 201:])
    writer.close()
    assert out.getvalue() == pack(header, codes)


# --- writer validation -----------------------------------------------------------------


@pytest.mark.parametrize(
    "mutate, match",
    [
        (lambda c: c[:, :-1], "499 frames, header needs 500"),
        (lambda c: c[:2], r"shape \[3, frames\]"),
        (lambda c: c.astype(np.float32), "integer"),
        (lambda c: np.where(np.arange(500) == 7, 256, c), "index 256 at codebook 0, frame 7 does not fit in 8 bits"),
        (lambda c: np.where(np.arange(500) == 3, -1, c), "index -1 at codebook 0, frame 3"),
    ],
)
def test_pack_rejects_bad_codes(mutate, match):
    header = make_header(10.0)
    with pytest.raises(ValueError, match=match):
        pack(header, mutate(random_codes(header)))


@pytest.mark.parametrize(
    "overrides, match",
    [
        (dict(version_minor=1), "writes format 1.0 only"),
        (dict(version_major=2), "writes format 1.0 only"),
        (dict(payload_kind=1), "payload kind 1 is reserved"),
    ],
)
def test_pack_rejects_unwritable_headers(overrides, match):
    header = make_header(1.0, **overrides)
    with pytest.raises(ValueError, match=match):
        pack(header, random_codes(header))


def test_writer_frame_count_checks():
    header = make_header(1.0)  # 50 frames
    codes = random_codes(header)
    writer = Writer(io.BytesIO(), header)
    writer.write_frames(codes[:, :30])
    with pytest.raises(ValueError, match="51 frames written, header allows 50"):
        writer.write_frames(np.zeros((3, 21), dtype=np.int64))
    with pytest.raises(ValueError, match="30 frames written, header needs 50"):
        writer.close()
    writer.write_frames(codes[:, 30:])
    writer.close()
    with pytest.raises(ValueError, match="closed"):
        writer.write_frames(codes[:, :0])


# --- damage: one FormatError message per kind ----------------------------------------


SMALL = (DATA / "nb-1200bps-3packets.nsc").read_bytes()  # 55-byte header, packets at 55, 73, 91
SMALL_HEADER = GOLDEN["nb-1200bps-3packets.nsc"][0]


def _flip(data: bytes, byte: int, mask: int = 0x01) -> bytes:
    out = bytearray(data)
    out[byte] ^= mask
    return bytes(out)


def _with_packet_length(data: bytes, offset: int, length: int) -> bytes:
    return data[:offset] + length.to_bytes(2, "big") + data[offset + 2 :]


DAMAGE = {
    "bad magic": (b"RIFF" + SMALL[4:], r"^not an \.nsc file: starts with b'RIFF'"),
    "empty file": (b"", r"^truncated header: file has 0 bytes"),
    "short magic": (b"NS", r"^truncated header: file has 2 bytes"),
    "unknown major": (raw_header(SMALL_HEADER, major=2) + SMALL[55:], r"^unsupported format version 2\.0: this nsc reads version 1\.x only"),
    "major zero": (SMALL[:4] + b"\x00" + SMALL[5:], r"^unsupported format version 0\.0"),
    "truncated header": (SMALL[:30], r"^truncated header: file has 30 of its 55 header bytes"),
    "header size too small": (SMALL[:6] + b"\x00\x20" + SMALL[8:], r"^bad header: header_size 32 is below the minimum 53"),
    "header crc": (_flip(SMALL, 20), r"^header CRC mismatch: the 55-byte header is damaged"),
    "codebooks overflow header": (
        raw_header(SMALL_HEADER, patch={3: 200}) + SMALL[55:],  # n_codebooks at file offset 11
        r"^bad header: its codebook count does not fit in header_size 55",
    ),
    "field out of range": (raw_header(SMALL_HEADER, hop_length=0) + SMALL[55:], r"^bad header: hop_length = 0"),
    "unknown payload kind": (raw_header(SMALL_HEADER, payload_kind=1) + SMALL[55:], r"^unknown payload kind 1: this nsc reads kind 0"),
    "truncated packet": (SMALL[:-3], r"^truncated packet: packet 2 \(frames 8-9, 0\.160-0\.194 s\) has 9 of 12 bytes"),
    "truncated packet length": (SMALL[:92], r"^truncated packet: packet 2 .* has 1 of 12 bytes"),
    "packet crc": (_flip(SMALL, 80), r"^packet CRC mismatch: packet 1 \(frames 4-7, 0\.080-0\.160 s\) is damaged"),
    "packet crc field": (_flip(SMALL, 72, 0x80), r"^packet CRC mismatch: packet 0 "),
    "wrong packet length": (
        _with_packet_length(SMALL, 55, 11),
        r"^wrong packet length: packet 0 \(frames 0-3, 0\.000-0\.080 s\) declares 11 payload bytes, its 4 frames need 12",
    ),
    "trailing garbage": (SMALL + b"extra", r"^trailing garbage: 5 bytes after the last packet"),
    "missing packets": (SMALL[:91], r"^missing packets: file ends before packet 2 \(frames 8-9, 0\.160-0\.194 s\); 3 packets expected"),
}


@pytest.mark.parametrize("kind", sorted(DAMAGE))
def test_damage_kind_has_its_own_message(kind):
    data, pattern = DAMAGE[kind]
    with pytest.raises(FormatError, match=pattern) as info:
        unpack(data)
    assert "\n" not in str(info.value)


def test_damage_messages_are_distinct():
    messages = set()
    for data, _ in DAMAGE.values():
        with pytest.raises(FormatError) as info:
            unpack(data)
        messages.add(str(info.value))
    assert len(messages) == len(DAMAGE)


def test_streaming_reader_raises_the_same():
    data, pattern = DAMAGE["packet crc"]
    stream = io.BytesIO(data)
    header = read_header(stream)
    packets = iter_packets(stream, header)
    assert next(packets)[0] == 0  # packet 0 is fine and arrives before the damage is seen
    with pytest.raises(FormatError, match=pattern):
        next(packets)


def test_every_flipped_bit_is_detected():
    for byte in range(len(SMALL)):
        for bit in range(8):
            with pytest.raises(FormatError):
                unpack(_flip(SMALL, byte, 1 << bit))


def test_every_flipped_packet_bit_is_located_by_salvage():
    header, codes = GOLDEN["nb-1200bps-3packets.nsc"]
    spans = packet_spans(header)
    offsets = [55, 73, 91, len(SMALL)]
    for byte in range(len(SMALL)):
        for bit in range(8):
            damaged = _flip(SMALL, byte, 1 << bit)
            if byte < 55:
                with pytest.raises(FormatError):
                    salvage(damaged)
                continue
            index = next(i for i in range(3) if offsets[i] <= byte < offsets[i + 1])
            _, got, damage = salvage(damaged)
            assert [d.index for d in damage] == [index]
            span = spans[index]
            lost = slice(span.first_frame, span.first_frame + span.n_frames)
            assert (got[:, lost] == LOST).all()
            keep = np.ones(header.n_frames, dtype=bool)
            keep[lost] = False
            np.testing.assert_array_equal(got[:, keep], codes[:, keep])


# --- versions --------------------------------------------------------------------------


def test_newer_minor_version_with_extra_fields_is_accepted():
    header = make_header(10.0)
    codes = random_codes(header)
    data = pack(header, codes)
    newer = raw_header(header, minor=3, extension=b"\x00\x2afuture fields") + data[55:]
    assert int.from_bytes(newer[6:8], "big") == 55 + 15
    got_header, got_codes = unpack(newer)
    assert got_header == dataclasses.replace(header, version_minor=3)
    np.testing.assert_array_equal(got_codes, codes)
    stream = io.BytesIO(newer)
    assert read_header(stream).version_minor == 3
    assert stream.tell() == 70
    report = inspect(newer)
    assert report.ok and report.header_bytes == 70


def test_newer_minor_extension_is_covered_by_the_crc():
    header = make_header(1.0)
    data = raw_header(header, minor=1, extension=b"new") + pack(header, random_codes(header))[55:]
    with pytest.raises(FormatError, match="header CRC mismatch"):
        unpack(_flip(data, 52))  # inside the extension


def test_major_2_is_rejected_even_with_a_valid_crc():
    header = make_header(1.0)
    data = raw_header(header, major=2, minor=0) + pack(header, random_codes(header))[55:]
    with pytest.raises(FormatError, match=r"unsupported format version 2\.0"):
        unpack(data)
    with pytest.raises(FormatError, match=r"unsupported format version 2\.0"):
        read_header(io.BytesIO(data))
    with pytest.raises(FormatError, match=r"unsupported format version 2\.0"):
        salvage(data)


# --- salvage and inspect ---------------------------------------------------------------


def test_salvage_reports_exact_time_range_and_keeps_the_rest():
    header = make_header(10.0)
    codes = random_codes(header)
    data = bytearray(pack(header, codes))
    packet1 = 55 + 606
    data[packet1 + 2 + 300] ^= 0x10
    got_header, got, damage = salvage(bytes(data))
    assert got_header == header
    assert len(damage) == 1
    d = damage[0]
    assert (d.index, d.first_frame, d.n_frames) == (1, 200, 200)
    assert (d.start_s, d.end_s) == (4.0, 8.0)
    assert d.reason.startswith("packet CRC mismatch: packet 1 (frames 200-399, 4.000-8.000 s)")
    valid = got[0] != LOST
    assert valid.sum() == 300 and not valid[200:400].any()
    np.testing.assert_array_equal(got[:, valid], codes[:, valid])


def test_salvage_with_corrupted_length_field_keeps_later_packets():
    header = make_header(10.0)
    codes = random_codes(header)
    data = _with_packet_length(pack(header, codes), 55, 7)
    _, got, damage = salvage(data)
    assert [d.index for d in damage] == [0]
    assert damage[0].reason.startswith("wrong packet length")
    np.testing.assert_array_equal(got[:, 200:], codes[:, 200:])


def test_salvage_truncated_file_keeps_leading_packets():
    header = make_header(10.0)
    codes = random_codes(header)
    data = pack(header, codes)
    _, got, damage = salvage(data[: 55 + 606 + 100])
    assert [(d.index, d.reason.split(":")[0]) for d in damage] == [(1, "truncated packet"), (2, "missing packets")]
    assert damage[1].start_s == 8.0 and damage[1].end_s == 10.0
    np.testing.assert_array_equal(got[:, :200], codes[:, :200])
    assert (got[:, 200:] == LOST).all()


def test_salvage_reports_trailing_garbage_without_losing_frames():
    header, codes = GOLDEN["nb-1200bps-3packets.nsc"]
    _, got, damage = salvage(SMALL + b"xyz")
    np.testing.assert_array_equal(got, codes)
    assert len(damage) == 1
    assert (damage[0].index, damage[0].n_frames) == (3, 0)
    assert damage[0].reason == "trailing garbage: 3 bytes after the last packet"


def test_salvage_of_intact_file_equals_unpack():
    header, codes = GOLDEN["sr-950bps-mixed-bits.nsc"]
    got_header, got, damage = salvage((DATA / "sr-950bps-mixed-bits.nsc").read_bytes())
    assert got_header == header and damage == []
    np.testing.assert_array_equal(got, codes)


def test_inspect_reports_sizes_rates_and_damage():
    header = make_header(10.0)
    data = pack(header, random_codes(header))
    report = inspect(data)
    assert report.ok
    assert report.header_bytes == 55
    assert report.payload_bytes == 1500
    assert report.framing_bytes == 55 + 3 * 6 == 73
    assert report.file_bytes == 1573 and report.trailing_bytes == 0
    assert report.payload_kbps == pytest.approx(1.2)
    assert report.file_kbps == pytest.approx(1573 * 8 / 10 / 1000)
    assert report.overhead == pytest.approx(73 / 1500)
    assert [(p.offset, p.size) for p in report.packets] == [(55, 606), (661, 606), (1267, 306)]

    damaged = inspect(_flip(data, 1300) + b"!")
    assert not damaged.ok and damaged.trailing_bytes == 1
    assert [p.index for p in damaged.damaged] == [2]
    assert damaged.damaged[0].error.startswith("packet CRC mismatch: packet 2 (frames 400-499, 8.000-10.000 s)")


# --- overhead budget -------------------------------------------------------------------


@pytest.mark.parametrize("seconds, budget, expected", [(10, 0.05, 73 / 1500), (60, 0.02, 145 / 9000)])
def test_overhead_budget_at_1200bps(seconds, budget, expected):
    header = make_header(float(seconds))
    assert header.frames_per_packet == DEFAULT_FRAMES_PER_PACKET == 200
    data = pack(header, random_codes(header))
    assert payload_size(header) == 150 * seconds
    measured = overhead(header, len(data))
    assert measured == pytest.approx(expected)
    assert measured <= budget
    assert payload_bitrate_bps(header) == pytest.approx(1200.0)
    assert file_bitrate_bps(header, len(data)) == pytest.approx(1200.0 * (1 + expected))


def test_bitrates_of_empty_input_are_nan():
    header = make_header(n_samples=0)
    assert math.isnan(payload_bitrate_bps(header))
    assert math.isnan(file_bitrate_bps(header, file_size(header)))


# --- the Kaitai description follows the construct declaration -------------------------


def test_kaitai_description_matches_construct_layout():
    yaml = pytest.importorskip("yaml")
    ksy = yaml.safe_load((Path(__file__).parents[1] / "formats" / "nsc.ksy").read_text())
    assert ksy["meta"]["endian"] == "be"
    preamble = [f["id"] for f in ksy["types"]["header"]["seq"]]
    assert preamble == ["magic", "version_major", "version_minor", "header_size", "body", "header_crc"]
    assert bytes(ksy["types"]["header"]["seq"][0]["contents"]) == container.MAGIC
    body_ids = [f["id"] for f in ksy["types"]["header_body"]["seq"]]
    assert body_ids == [sc.name for sc in HEADER_BODY.subcons]
    sizes = {"u1": 1, "u2": 2, "u4": 4, "u8": 8}
    for field, subcon in zip(ksy["types"]["header_body"]["seq"], HEADER_BODY.subcons):
        if field.get("type") in sizes and "repeat" not in field:
            assert sizes[field["type"]] == subcon.sizeof(), field["id"]
    assert [f["id"] for f in ksy["types"]["packet"]["seq"]] == ["length", "payload", "packet_crc"]
