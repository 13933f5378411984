"""`nsc encode INPUT... [-o OUT] [-b BITRATE] [-c CODEC] [--beam-width N] [--force] [--device] [--batch-size N] [--quiet]`."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ._util import (
    BatchSizeOption, BatchUI, DeviceOption, ForceOption, QuietOption, check_device, cli_errors, flush_stdout,
    plan_or_exit, usage_error,
)

__all__ = ["encode_cli"]


def encode_cli(
    inputs: Annotated[list[str], typer.Argument(
        metavar="INPUT", help="Audio files (WAV, FLAC, OGG...), folders (searched recursively) or - for standard input.",
        show_default=False)],
    output: Annotated[Optional[str], typer.Option(
        "--output", "-o", metavar="OUT",
        help="Output file for one input, else a folder under which input folders are mirrored; "
             "- for standard output. Default: beside each input (speech.wav -> speech.nsc).")] = None,
    bitrate: Annotated[Optional[str], typer.Option(
        "--bitrate", "-b", metavar="BITRATE", help="Target bitrate: 1.2k, 1200, 1.2kbps... Without -c it also picks the codec.")] = None,
    codec: Annotated[Optional[str], typer.Option(
        "--codec", "-c", metavar="CODEC", help="Codec name (see `nsc models`).")] = None,
    beam_width: Annotated[Optional[int], typer.Option(
        "--beam-width", min=1, metavar="N", show_default=False,
        help="Partial codes the quantizer search keeps per frame: 1 is greedy, more finds codes closer "
             "to the encoder's output at the same bitrate (slower encoding, same decoder). "
             "Default: the codec's (`nsc models`).")] = None,
    force: ForceOption = False,
    device: DeviceOption = "auto",
    batch_size: BatchSizeOption = None,
    quiet: QuietOption = False,
) -> None:
    """Compress speech to .nsc files.

    Inputs of any sample rate and channel count are mixed to mono and resampled
    to the codec's rate (with a notice). Long files stream in bounded memory.
    Exit status: 0 all done, 1 some inputs failed, 2 usage error.
    """
    from ..codec import load_codec
    from ..errors import NscError
    from ..engine import Engine
    from ..registry import parse_bitrate, resolve

    with cli_errors():
        kbps = parse_bitrate(bitrate) if bitrate is not None else None
        spec, n_codebooks = resolve(codec, kbps)
        check_device(device)
        jobs = plan_or_exit(inputs, output, mode="encode", nothing="audio files")
        codec_obj = load_codec(spec.name, device=device)
        if beam_width is not None:
            try:
                codec_obj = codec_obj.with_beam_width(beam_width)
            except NscError as e:
                raise usage_error(str(e)) from None
        ui = BatchUI("encoded", quiet=quiet)
        if not quiet:
            ui.console.print(
                f"[dim]nsc: {spec.name} at {spec.bitrate_kbps(n_codebooks):g} kbit/s "
                f"({n_codebooks} codebooks, beam width {codec_obj.beam_width}) on {codec_obj.device}[/]"
            )
        engine = Engine(codec_obj, n_codebooks=n_codebooks, batch_size=batch_size, listener=ui)
        try:
            report = engine.encode_files(jobs, force=force)
        finally:
            ui.close()
            flush_stdout()
        code = ui.summary(report)
    raise typer.Exit(code)
