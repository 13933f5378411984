"""Golden `.nsc` files: fixed headers and codes, written with :func:`nsc.container.pack`.

Regenerate (only when the format version changes, never to make a test pass):

    python tests/data/make_golden.py

``tests/test_container.py`` imports :func:`golden_cases` and checks each file in
this folder byte for byte against ``pack()`` of the same content. The hex
examples in ``formats/nsc-container-v1.md`` are dumps of these files.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from nsc.container import Header, pack  # noqa: E402

FINGERPRINT = bytes.fromhex("0123456789abcdef")


def golden_codes(bits: tuple[int, ...], n_frames: int) -> np.ndarray:
    """Deterministic int64 [Q, F] indices: ``(37 q + 11 f + 5) mod 2**bits[q]``."""
    q = np.arange(len(bits))[:, None]
    f = np.arange(n_frames)[None, :]
    limits = np.asarray([1 << b for b in bits])[:, None]
    return (37 * q + 11 * f + 5) % limits


def golden_cases() -> dict[str, tuple[Header, np.ndarray]]:
    """File name -> (header, codes [Q, F]) of every golden file."""
    headers = {
        # mscacodec-nb at 1.2 kbit/s: 3 x 8 bits, 16 kHz mono input (resampled, rounding
        # half up: 3100 -> 1550 samples -> 10 frames), 4 frames per packet -> 3 packets (4, 4, 2).
        "nb-1200bps-3packets.nsc": Header(
            codec_id=1, fingerprint=FINGERPRINT, sample_rate=8000, input_sample_rate=16000,
            input_channels=1, n_samples=3100, hop_length=160, bits=(8, 8, 8),
            bitrate_bps=1200, frames_per_packet=4,
        ),
        # srcodec-16k at 950 bit/s: mixed widths 9 + 10 bits (19-bit frames, 3 padding bits),
        # 44.1 kHz stereo input: 5788 samples -> 2100 codec samples -> 7 frames, one packet.
        "sr-950bps-mixed-bits.nsc": Header(
            codec_id=4, fingerprint=FINGERPRINT, sample_rate=16000, input_sample_rate=44100,
            input_channels=2, n_samples=5788, hop_length=320, bits=(9, 10), bitrate_bps=950,
        ),
        # mscacodec-wb, 6 x 10 bits, empty input: still one frame (n_frames >= 1).
        "wb-3000bps-empty.nsc": Header(
            codec_id=2, fingerprint=FINGERPRINT, sample_rate=16000, input_sample_rate=16000,
            input_channels=1, n_samples=0, hop_length=320, bits=(10,) * 6, bitrate_bps=3000,
        ),
    }
    return {name: (h, golden_codes(h.bits, h.n_frames)) for name, h in headers.items()}


def main() -> None:
    for name, (header, codes) in golden_cases().items():
        data = pack(header, codes)
        (HERE / name).write_bytes(data)
        print(f"{name}: {len(data)} bytes, {header.n_frames} frames, {header.n_packets} packets")


if __name__ == "__main__":
    main()
