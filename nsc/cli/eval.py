"""`nsc eval REFERENCE... [-c CODEC] [-b BITRATE ...] [--baselines codec2,opus] [--out DIR] [--json]`.

A thin wrapper around :func:`nsc.eval.evaluate`: it parses options, shows a
progress bar and the summary tables, and maps errors to one line and an exit
code (0 done, 1 failures, 2 usage).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

__all__ = ["eval_cli"]

EXIT_FAILED, EXIT_USAGE = 1, 2


def _error(message: str, code: int) -> typer.Exit:
    from rich.console import Console
    from rich.markup import escape

    Console(stderr=True, highlight=False, soft_wrap=True).print(f"[bold red]nsc: error:[/] {escape(message)}")
    return typer.Exit(code)


def _parse_weights(items: list[str]) -> dict[str, Path]:
    """``["CODEC=PATH", ...]`` -> ``{codec: path}``.

    Raises:
        UnknownCodecError: CODEC is not registered.
        NscError: an item without ``=``, a codec named twice, or a PATH that does not exist.
    """
    from ..errors import NscError
    from ..registry import get_spec

    out: dict[str, Path] = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise NscError(f"--weights wants CODEC=PATH, got {item!r}")
        name = get_spec(name.strip()).name
        if name in out:
            raise NscError(f"--weights names {name} twice")
        if not Path(path).is_file():
            raise NscError(f"--weights {name}: {path} not found")
        out[name] = Path(path)
    return out


def eval_cli(
    references: Annotated[list[Path], typer.Argument(
        help="Speech files, folders (searched recursively) or manifest .csv files to use as references.",
        show_default=False)],
    codec: Annotated[Optional[list[str]], typer.Option(
        "--codec", "-c",
        help="nsc codec to evaluate (repeatable); none for baselines only. Default: every codec with weights.")] = None,
    bitrate: Annotated[Optional[list[str]], typer.Option(
        "--bitrate", "-b", help="nsc bitrate (repeatable): 1.2k, 2400... Default: every rate a codec offers.")] = None,
    baselines: Annotated[str, typer.Option(
        "--baselines", help="Reference codecs: codec2, opus, codec2:1200+2400, opus:8, or none.")] = "codec2,opus",
    out: Annotated[Path, typer.Option(
        "--out", "-o", help="Folder for scores.csv, summary.md/json and the PNG plots.")] = Path("nsc-eval"),
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON on standard output.")] = False,
    visqol: Annotated[bool, typer.Option(
        "--visqol/--no-visqol", help="Score ViSQOL (slow; needs visqol-python).")] = True,
    split: Annotated[Optional[str], typer.Option(
        "--split", help="With a manifest .csv reference: only its rows of this split (e.g. valid).")] = None,
    limit: Annotated[Optional[int], typer.Option(
        "--limit", "-n", min=1, help="Use only the first N files (sorted).")] = None,
    device: Annotated[str, typer.Option("--device", help="Torch device for nsc codecs: cpu, cuda, auto.")] = "cpu",
    threads: Annotated[int, typer.Option("--threads", min=1, help="Torch CPU threads (per job).")] = 1,
    jobs: Annotated[int, typer.Option(
        "--jobs", "-j", min=1, help="Files scored in parallel (worker processes); speeds stay per process.")] = 1,
    weights: Annotated[Optional[list[str]], typer.Option(
        "--weights", "-w", metavar="CODEC=PATH",
        help="Evaluate CODEC with these safetensors weights (e.g. a training run's best.safetensors) "
             "instead of the packaged ones (repeatable).", show_default=False)] = None,
    postfilter: Annotated[Optional[bool], typer.Option(
        "--postfilter/--no-postfilter", show_default=False,
        help="Decode nsc codecs with or without the postfilter. Default: as `nsc decode` does (each codec's "
             "default).")] = None,
    beam_width: Annotated[Optional[int], typer.Option(
        "--beam-width", min=1, metavar="N", show_default=False,
        help="Encode nsc codecs with this quantizer search width (1: greedy). Default: as `nsc encode` does "
             "(each codec's default).")] = None,
    precision: Annotated[Optional[str], typer.Option(
        "--precision", metavar="auto|float32|bfloat16", show_default=False,
        help="Decode nsc codecs in this arithmetic. Default: as `nsc decode` does (auto).")] = None,
) -> None:
    """Score nsc codecs and the Codec2/Opus baselines on speech: PESQ, STOI, ViSQOL, LSD, exact bitrate, speed.

    Every file is coded by every codec and bitrate, aligned to the reference and
    scored at the codec's sample rate (PESQ narrowband at 8 kHz, wideband at
    16 kHz). Exit status: 0 done, 1 failures, 2 usage error.
    """
    from ..errors import AudioError, BitrateError, NscError, UnknownCodecError
    from ..eval import evaluate, find_audio, parse_baselines
    from ..eval.metrics import visqol_available
    from ..registry import parse_bitrate

    try:
        kbps = [parse_bitrate(b) for b in bitrate] if bitrate else None
        pairs = parse_baselines(baselines)
        files = find_audio(references, split=split)
        weight_files = _parse_weights(weights or [])
        if precision is not None:
            from ..models.precision import check_precision

            check_precision(precision)
    except (BitrateError, UnknownCodecError, AudioError, NscError) as exc:
        raise _error(str(exc), EXIT_USAGE) from None
    if limit:
        files = files[:limit]
    if device not in ("cpu", "auto") and not device.startswith("cuda"):
        raise _error(f"--device must be cpu, cuda or auto, got {device!r}", EXIT_USAGE)

    from rich.console import Console

    err = Console(stderr=True, highlight=False, soft_wrap=True)
    if visqol and not visqol_available():
        err.print("[yellow]nsc: ViSQOL skipped: visqol-python is not installed (pip install visqol-python[lattice])[/]")
        visqol = False
    try:
        result = evaluate(
            files,
            codecs=None if not codec else [c for c in codec if c.lower() != "none"],
            baselines=pairs,
            out_dir=out,
            bitrates_kbps=kbps,
            visqol=visqol,
            device=device,
            threads=threads,
            progress=sys.stderr.isatty(),
            weights=weight_files,
            jobs=jobs,
            postfilter=postfilter,
            beam_width=beam_width,
            precision=precision,
        )
    except (UnknownCodecError, BitrateError) as exc:
        raise _error(str(exc), EXIT_USAGE) from None
    except NscError as exc:
        raise _error(str(exc), EXIT_FAILED) from None
    except OSError as exc:
        raise _error(f"{exc.filename + ': ' if exc.filename else ''}{exc.strerror or exc}", EXIT_FAILED) from None
    except KeyboardInterrupt:
        raise _error("interrupted", 130) from None
    except Exception as exc:  # noqa: BLE001 - never a traceback unless asked for
        if os.environ.get("NSC_DEBUG"):
            raise
        raise _error(f"internal error: {type(exc).__name__}: {exc} (set NSC_DEBUG=1 for a traceback)", 1) from None

    from rich.markup import escape

    for note in result.notes:
        err.print(f"[yellow]nsc: {escape(note)}[/]")
    if as_json:
        summary = result.to_dict()
        summary.pop("rows")
        sys.stdout.write(json.dumps(summary, indent=2) + "\n")
    else:
        from ..eval.report import summary_table, usage_table

        console = Console(highlight=False)
        console.print(summary_table(result))
        usage = usage_table(result)
        if usage is not None:
            console.print(usage)
    err.print("[dim]nsc: wrote " + escape(", ".join(str(p) for p in result.outputs.values())) + "[/]")
    failed = sum(s.n_failed for s in result.summaries)
    raise typer.Exit(EXIT_FAILED if failed else 0)
