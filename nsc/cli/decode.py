"""`nsc decode INPUT... [-o OUT] [-r HZ|original] [--force] [--salvage] [--no-postfilter] [--precision P]`."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ._util import (
    BatchSizeOption, BatchUI, DeviceOption, ForceOption, QuietOption, check_device, check_precision, cli_errors,
    flush_stdout,
    parse_sample_rate, plan_or_exit,
)

__all__ = ["decode_cli"]


def decode_cli(
    inputs: Annotated[list[str], typer.Argument(
        metavar="INPUT", help=".nsc files, folders (searched recursively for .nsc) or - for standard input.", show_default=False)],
    output: Annotated[Optional[str], typer.Option(
        "--output", "-o", metavar="OUT",
        help="Output WAV for one input, else a folder under which input folders are mirrored; "
             "- for standard output. Default: beside each input (speech.nsc -> speech.nsc.wav).")] = None,
    sample_rate: Annotated[Optional[str], typer.Option(
        "--sample-rate", "-r", metavar="HZ|original",
        help="Output rate in Hz (16000, 16k), or 'original' for the input's original rate and exact "
             "length. Default: the codec's rate.")] = None,
    force: ForceOption = False,
    salvage: Annotated[bool, typer.Option(
        "--salvage", help="Decode the intact packets of a damaged file, fill damaged ones with silence "
                          "and report the lost time ranges.")] = False,
    postfilter: Annotated[Optional[bool], typer.Option(
        "--postfilter/--no-postfilter", show_default=False,
        help="Pitch postfilter on the decoded speech (nsc.postfilter). Default: as the codec's "
             "entry in `nsc models` says; --no-postfilter gives the model's raw output.")] = None,
    precision: Annotated[str, typer.Option(
        "--precision", metavar="auto|float32|bfloat16",
        help="The decoder's arithmetic. auto: bfloat16 for its MSR-CAM blocks on a CPU that computes "
             "bfloat16 natively (AVX512-BF16, AMX; 1.7-1.8x as fast, output within -50 dB of float32's), "
             "float32 elsewhere; float32: as trained. Encoding is float32 always.")] = "auto",
    device: DeviceOption = "auto",
    batch_size: BatchSizeOption = None,
    quiet: QuietOption = False,
) -> None:
    """Decompress .nsc files to 16-bit WAV.

    A damaged file is refused unless --salvage is given; a file made with other
    weights than the installed ones is refused (both fingerprints are named).
    Exit status: 0 all done, 1 some inputs failed, 2 usage error.
    """
    from ..engine import Engine

    with cli_errors():
        rate = parse_sample_rate(sample_rate)
        check_device(device)
        check_precision(precision)
        jobs = plan_or_exit(inputs, output, mode="decode", nothing=".nsc files")
        ui = BatchUI("decoded", quiet=quiet)
        engine = Engine(device=device, batch_size=batch_size, listener=ui, postfilter=postfilter, precision=precision)
        try:
            report = engine.decode_files(jobs, force=force, sample_rate=rate, salvage=salvage)
        finally:
            ui.close()
            flush_stdout()
        code = ui.summary(report)
    raise typer.Exit(code)
