"""Codec2 and Opus baselines: agreement with running the tools by hand, exact bits, missing tools."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import SPEECH
from nsc.eval import baselines as bl
from nsc.eval.align import align
from nsc.eval.metrics import pesq_score, stoi_score
from nsc.eval.runner import evaluate, load_reference
from test_metrics import vowel

has_codec2 = pytest.mark.skipif(not (shutil.which("c2enc") and shutil.which("c2dec")), reason="codec2 not installed")
has_opus = pytest.mark.skipif(not (shutil.which("opusenc") and shutil.which("opusdec")), reason="opus-tools not installed")


def _real_speech_file() -> Path | None:
    manifest = SPEECH / "manifest.csv"
    if not manifest.exists():
        return None
    import csv

    with open(manifest) as fh:
        rows = [r for r in csv.DictReader(fh) if r["split"] == "valid" and float(r["seconds"]) < 6]
    return SPEECH / rows[0]["path"] if rows else None


def _by_hand_codec2(wav: Path, mode: str, tmp: Path) -> tuple[np.ndarray, np.ndarray, int]:
    """What a person does: 8 kHz s16 raw -> c2enc -> c2dec; returns (input, decoded, .c2 size)."""
    ref = load_reference(wav, 8000)
    pcm = np.clip(np.round(ref * 32767), -32768, 32767).astype("<i2")
    pcm.tofile(tmp / "in.raw")
    subprocess.run(["c2enc", mode, str(tmp / "in.raw"), str(tmp / "hand.c2")], check=True, capture_output=True)
    subprocess.run(["c2dec", mode, str(tmp / "hand.c2"), str(tmp / "hand.raw")], check=True, capture_output=True)
    decoded = np.fromfile(tmp / "hand.raw", dtype="<i2").astype(np.float64) / 32768.0
    return ref, decoded, (tmp / "hand.c2").stat().st_size


@has_codec2
@pytest.mark.parametrize("source", ["synthetic", "real"])
def test_codec2_figures_match_running_c2enc_c2dec_by_hand(source, tmp_path):
    if source == "real":
        wav = _real_speech_file()
        if wav is None:
            pytest.skip("shared speech corpus not present")
    else:
        wav = tmp_path / "vowel.wav"
        sf.write(wav, vowel(seconds=3.0, sample_rate=16000), 16000)
    mode = "1200"
    ref, hand, size = _by_hand_codec2(wav, mode, tmp_path)
    # The header c2enc writes: magic C0 DE C2, version, mode, flags: 7 bytes, then 6-byte frames.
    head = (tmp_path / "hand.c2").read_bytes()[:7]
    assert head[:3] == b"\xc0\xde\xc2"
    assert (size - 7) == (len(ref) // 320) * 6

    trip = bl.codec2_roundtrip(ref, mode)
    np.testing.assert_array_equal(trip.decoded, hand.astype(np.float32))
    assert trip.bitrate.payload_bits == (size - 7) * 8
    assert trip.bitrate.file_bits == size * 8
    assert trip.bitrate.nominal_kbps == pytest.approx(1.2)

    result = evaluate([wav], codecs=[], baselines=f"codec2:{mode}", visqol=False)
    (row,) = result.rows
    hand_aligned, _ = align(ref, hand, 8000)
    assert row.payload_bits == (size - 7) * 8
    assert row.payload_kbps == pytest.approx((size - 7) * 8 / (len(ref) / 8000) / 1000)
    assert row.pesq == pytest.approx(pesq_score(ref, hand_aligned, 8000), abs=1e-9)
    assert row.stoi == pytest.approx(stoi_score(ref, hand_aligned, 8000), abs=1e-9)
    if source == "real":  # Codec2 1200 on real speech: well above chance, well below transparency
        assert 1.5 < row.pesq < 3.5 and 0.6 < row.stoi < 0.95


@has_codec2
def test_codec2_700c_frames_are_byte_padded():
    x = vowel(seconds=1.0)
    trip = bl.codec2_roundtrip(x, "700C")
    frames = len(x) // 320
    assert trip.bitrate.payload_bits == frames * 4 * 8  # 28-bit frames stored in 4 bytes
    assert trip.bitrate.nominal_kbps == pytest.approx(0.7)


@has_opus
@pytest.mark.parametrize("rate", [8000, 16000])
def test_opus_hard_cbr_payload_is_exact(rate):
    x = vowel(seconds=2.0, sample_rate=rate)
    trip = bl.opus_roundtrip(x, rate, 8.0)
    assert trip.decoded.shape == x.shape  # opusdec honours pre-skip and the end granule
    packets_bytes = trip.bitrate.payload_bits // 8
    assert packets_bytes % 20 == 0  # 8 kbit/s x 20 ms = 20 bytes per packet, hard CBR
    n_packets = packets_bytes // 20
    assert 100 <= n_packets <= 102  # 2 s of 20 ms frames, plus the encoder look-ahead
    assert trip.bitrate.file_bits > trip.bitrate.payload_bits  # Ogg pages, OpusHead, OpusTags
    aligned, info = align(x, trip.decoded, rate)
    assert abs(info.delay) <= 2 and info.refined  # opusdec compensates the codec delay (pre-skip)


def _ogg_page(segments: list[int], body: bytes, seq: int) -> bytes:
    head = b"OggS" + struct.pack("<BBqIIIB", 0, 0, 0, 1, seq, 0, len(segments))
    return head + bytes(segments) + body


def test_ogg_packet_sizes_joins_packets_across_pages():
    # packet A = 300 bytes (255 + 45), packet B = 255 bytes split over two pages (255 | 0), C = 7
    p1 = _ogg_page([255, 45, 255], b"a" * 300 + b"b" * 255, 0)
    p2 = _ogg_page([0, 7], b"c" * 7, 1)
    assert bl.ogg_packet_sizes(p1 + p2) == [300, 255, 7]
    with pytest.raises(bl.NscError):
        bl.ogg_packet_sizes(p1[:-3])


def test_missing_tools_say_how_to_install(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(bl.ToolMissingError, match=r"apt-get install codec2"):
        bl.check_tools("codec2")
    with pytest.raises(bl.ToolMissingError, match=r"apt-get install opus-tools"):
        bl.opus_roundtrip(vowel(), 8000, 8)
    notes: list[str] = []
    from nsc.eval.runner import parse_baselines, plan_systems

    assert plan_systems([], None, parse_baselines("codec2,opus"), notes) == []
    assert len(notes) == 2 and all("\n" not in n and "apt-get install" in n for n in notes)
