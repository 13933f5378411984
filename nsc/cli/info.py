"""`nsc info FILE... [--json]`: header fields, sizes, bitrates and per-packet integrity of .nsc files."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from ._util import EXIT_FAILED, EXIT_OK, cli_errors, error, out_console

__all__ = ["info_cli", "file_info"]


def _num(x: float) -> float | None:
    return None if isinstance(x, float) and math.isnan(x) else x


def file_info(path: str | Path) -> dict:
    """Everything ``nsc info`` reports about one `.nsc` file, as JSON-ready data.

    Returns:
        a dict: ``file``, ``format_version``, ``codec`` (name, or None if unknown),
        ``codec_id``, ``weights_fingerprint`` (hex), rates (Hz), ``n_samples``,
        ``duration_s``, ``codec_length``, ``hop_length``, ``frame_rate``, ``n_frames``,
        ``n_codebooks``, ``bits``, ``bitrate_bps`` (nominal), ``payload_kind``,
        ``frames_per_packet``, ``n_packets``, sizes (bytes), ``payload_kbps`` and
        ``file_kbps`` (kbit/s of input duration), ``overhead`` (fraction of payload),
        ``intact``, ``packets_ok``, ``damaged`` (index, start_s, end_s, error per packet).

    Raises:
        FormatError: the header is unusable (not .nsc, unsupported version, damaged header).
        OSError: the file cannot be read.
    """
    from .. import container
    from ..errors import UnknownCodecError
    from ..registry import spec_for_wire_id

    data = Path(path).read_bytes()
    rep = container.inspect(data)
    h = rep.header
    try:
        codec = spec_for_wire_id(h.codec_id).name
    except UnknownCodecError:
        codec = None
    return {
        "file": str(path),
        "format_version": f"{h.version_major}.{h.version_minor}",
        "codec": codec,
        "codec_id": h.codec_id,
        "weights_fingerprint": h.fingerprint.hex(),
        "sample_rate": h.sample_rate,
        "input_sample_rate": h.input_sample_rate,
        "input_channels": h.input_channels,
        "n_samples": h.n_samples,
        "duration_s": h.duration_s,
        "codec_length": h.codec_length,
        "hop_length": h.hop_length,
        "frame_rate": h.frame_rate,
        "n_frames": h.n_frames,
        "n_codebooks": h.n_codebooks,
        "bits": list(h.bits),
        "bitrate_bps": h.bitrate_bps,
        "payload_kind": h.payload_kind,
        "frames_per_packet": h.frames_per_packet,
        "n_packets": h.n_packets,
        "header_bytes": rep.header_bytes,
        "payload_bytes": rep.payload_bytes,
        "framing_bytes": rep.framing_bytes,
        "trailing_bytes": rep.trailing_bytes,
        "file_bytes": rep.file_bytes,
        "payload_kbps": _num(rep.payload_kbps),
        "file_kbps": _num(rep.file_kbps),
        "overhead": _num(rep.overhead),
        "intact": rep.ok,
        "packets_ok": sum(p.ok for p in rep.packets),
        "damaged": [
            {"index": p.index, "start_s": p.start_s, "end_s": p.end_s, "error": p.error} for p in rep.damaged
        ],
    }


def _show(info: dict) -> None:
    t = Table(title=escape(info["file"]), show_header=False, title_justify="left", box=None, pad_edge=False)
    t.add_column(style="bold")
    t.add_column()
    codec = info["codec"] or f"unknown (id {info['codec_id']})"
    rows = [
        ("format", f".nsc {info['format_version']}"),
        ("codec", f"{codec} (wire id {info['codec_id']})"),
        ("weights", f"fingerprint {info['weights_fingerprint']}"),
        ("duration", f"{info['duration_s']:.3f} s ({info['n_samples']} samples at {info['input_sample_rate']} Hz, "
                     f"{info['input_channels']} channel{'s' if info['input_channels'] != 1 else ''} in the input)"),
        ("codec rate", f"{info['sample_rate']} Hz, hop {info['hop_length']} samples, "
                       f"{info['frame_rate']:g} frames/s, {info['codec_length']} samples"),
        ("codes", f"{info['n_frames']} frames x {info['n_codebooks']} codebooks, bits {info['bits']}, "
                  f"payload kind {info['payload_kind']}"),
        ("bitrate", f"{info['bitrate_bps'] / 1000:g} kbit/s nominal; payload "
                    f"{_fmt(info['payload_kbps'])} kbit/s, whole file {_fmt(info['file_kbps'])} kbit/s"),
        ("size", f"{info['file_bytes']} bytes: header {info['header_bytes']}, payload {info['payload_bytes']}, "
                 f"overhead {_fmt(100 * info['overhead'] if info['overhead'] is not None else None)} %"),
        ("packets", f"{info['n_packets']} of up to {info['frames_per_packet']} frames; {info['packets_ok']} intact"),
    ]
    if info["intact"]:
        rows.append(("integrity", "[green]ok[/]: every packet passes its CRC check"))
    else:
        rows.append(("integrity", f"[red]damaged[/]: {len(info['damaged'])} packet(s) fail"
                     + (f", {info['trailing_bytes']} trailing bytes" if info["trailing_bytes"] else "")))
    for k, v in rows:
        t.add_row(k, v)
    for d in info["damaged"]:
        t.add_row("", f"[red]{escape(d['error'])}[/]")
    out_console.print(t)


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def info_cli(
    files: Annotated[list[Path], typer.Argument(metavar="FILE", help=".nsc files to describe.", show_default=False)],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (a list, one object per file).")] = False,
) -> None:
    """Show the header, bitrates and packet integrity of .nsc files.

    Exit status: 0 every file intact, 1 some file damaged or unreadable.
    """
    results = []
    code = EXIT_OK
    with cli_errors():
        for i, f in enumerate(files):
            try:
                info = file_info(f)
            except Exception as e:  # noqa: BLE001 - one line per unreadable file, go on
                from ..engine import describe_error

                msg = describe_error(e)
                error(msg if msg.startswith(str(f)) else f"{f}: {msg}")
                code = EXIT_FAILED
                if as_json:
                    results.append({"file": str(f), "error": msg})
                continue
            if not info["intact"]:
                code = EXIT_FAILED
            results.append(info)
            if not as_json:
                if i:
                    out_console.print()
                _show(info)
        if as_json:
            out_console.out(json.dumps(results, indent=2))
    raise typer.Exit(code)
