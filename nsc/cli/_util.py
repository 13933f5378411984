"""Shared pieces of the ``nsc`` subcommands: consoles, one-line errors, exit codes, progress.

Exit codes: 0 every input done; 1 some input failed (the batch goes on past it
and lists the failures at the end), or the codec could not be loaded; 2 usage
error (bad option value, unknown codec, unavailable bitrate). 130 on Ctrl-C.
Messages go to standard error, so standard output can carry data (``-``).
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

from ..errors import BitrateError, NscError, UnknownCodecError
from ..engine import BatchReport, FileResult, Listener

__all__ = [
    "ForceOption",
    "DeviceOption",
    "BatchSizeOption",
    "QuietOption",
    "EXIT_OK",
    "EXIT_FAILED",
    "EXIT_USAGE",
    "err_console",
    "out_console",
    "error",
    "usage_error",
    "cli_errors",
    "check_device",
    "check_precision",
    "parse_sample_rate",
    "BatchUI",
    "fmt_duration",
    "run_cli",
    "flush_stdout",
]


# Options shared by `nsc encode` and `nsc decode`, declared once.
ForceOption = Annotated[bool, typer.Option("--force", "-f", help="Overwrite existing outputs.")]
DeviceOption = Annotated[str, typer.Option("--device", metavar="auto|cpu|cuda", help="auto (CUDA when present), cpu or cuda.")]
BatchSizeOption = Annotated[Optional[int], typer.Option(
    "--batch-size", min=1, metavar="N", show_default=False,
    help="Files or chunks of long files per forward pass. Default: 1 on CPU, 8 on CUDA.")]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="Print errors only.")]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

#: Messages, notices and progress (standard error).
err_console = Console(stderr=True, highlight=False, soft_wrap=True)
#: Results of ``info`` and ``models`` (standard output).
out_console = Console(highlight=False, soft_wrap=True)


def error(message: str) -> None:
    """Print one error line to standard error (never a traceback)."""
    err_console.print(f"[bold red]nsc: error:[/] {escape(message)}")


def usage_error(message: str) -> typer.Exit:
    """Print a usage error and return the Exit(2) to raise."""
    error(message)
    return typer.Exit(EXIT_USAGE)


@contextmanager
def cli_errors() -> Iterator[None]:
    """Turn library and OS errors into one line and an exit code.

    UnknownCodecError and BitrateError exit 2 (usage); other NscError and
    OSError exit 1; Ctrl-C exits 130; anything unexpected exits 1 with one line
    (set ``NSC_DEBUG=1`` to get the traceback instead).
    """
    try:
        yield
    except typer.Exit:
        raise
    except (UnknownCodecError, BitrateError) as e:
        raise usage_error(str(e)) from None
    except NscError as e:
        error(str(e))
        raise typer.Exit(EXIT_FAILED) from None
    except OSError as e:
        where = f"{e.filename}: " if getattr(e, "filename", None) else ""
        error(f"{where}{e.strerror or e}")
        raise typer.Exit(EXIT_FAILED) from None
    except KeyboardInterrupt:
        error("interrupted; no partial output was left behind")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except Exception as e:  # noqa: BLE001 - the CLI never shows a traceback by default
        if os.environ.get("NSC_DEBUG"):
            raise
        error(f"internal error: {type(e).__name__}: {e} (set NSC_DEBUG=1 for a traceback)".split("\n")[0])
        raise typer.Exit(EXIT_FAILED) from None


_DEVICE_RE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


def check_device(device: str) -> str:
    """Validate ``--device`` (auto, cpu, cuda, cuda:N); CUDA must be present if asked for.

    Raises:
        typer.Exit: code 2 with a one-line message.
    """
    if not _DEVICE_RE.match(device):
        raise usage_error(f"--device must be auto, cpu or cuda, got {device!r}")
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise usage_error("--device cuda asked for, but no CUDA device is available (use auto or cpu)")
    return device


def check_precision(precision: str) -> str:
    """Validate ``--precision`` (:data:`nsc.models.precision.PRECISIONS`).

    Raises:
        typer.Exit: code 2 with a one-line message.
    """
    from ..models.precision import PRECISIONS

    if precision not in PRECISIONS:
        raise usage_error(f"--precision must be {', '.join(PRECISIONS[:-1])} or {PRECISIONS[-1]}, got {precision!r}")
    return precision


def parse_sample_rate(text: str | None) -> int | str | None:
    """``--sample-rate``: None, ``"original"``, ``"16000"`` or ``"16k"`` -> None, "original" or Hz.

    Raises:
        typer.Exit: code 2 for anything else.
    """
    if text is None:
        return None
    t = text.strip().lower()
    if t == "original":
        return "original"
    m = re.match(r"^(\d+(?:\.\d+)?)\s*(k|khz|hz)?$", t)
    if not m:
        raise usage_error(f"--sample-rate must be a rate in Hz (16000, 16k) or 'original', got {text!r}")
    hz = float(m.group(1)) * (1000 if m.group(2) in ("k", "khz") else 1)
    if not 1000 <= hz <= 384000 or abs(hz - round(hz)) > 1e-6:
        raise usage_error(f"--sample-rate {text} is not a whole number of Hz in 1000-384000")
    return int(round(hz))


def fmt_duration(seconds: float) -> str:
    """``3725.0`` -> ``"1 h 2 min 5 s"``, ``4.2`` -> ``"4.2 s"``."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    m, s = divmod(int(round(seconds)), 60)
    h, m = divmod(m, 60)
    return f"{h} h {m} min {s} s" if h else f"{m} min {s} s"


class BatchUI(Listener):
    """Progress bar (× real time, achieved kbit/s), notices and the closing summary of a batch.

    The bar is drawn on a terminal only, for folders (several files) and for
    long files (over 30 s); ``quiet`` silences everything but errors.

    Args:
        verb: ``"encoded"`` or ``"decoded"`` for the summary.
        quiet: print errors only.
        console: where to draw (standard error by default).
    """

    def __init__(self, verb: str, *, quiet: bool = False, console: Console | None = None) -> None:
        self.verb = verb
        self.quiet = quiet
        self.console = console or err_console
        self.progress: Progress | None = None
        self.task = None
        self.t0 = time.perf_counter()
        self.done_s = 0.0
        self.bytes = 0

    def started(self, n_files: int, total_s: float) -> None:
        self.t0 = time.perf_counter()
        if self.quiet or not self.console.is_terminal or (n_files <= 1 and total_s <= 30):
            return
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[speed]}"),
            TextColumn("{task.fields[rate]}"),
            TimeRemainingColumn(),
            console=self.console,
            transient=True,
        )
        self.progress.start()
        self.task = self.progress.add_task(self.verb[:-2] + "ing", total=max(total_s, 1e-9),
                                           speed="", rate="")

    def notice(self, src: str, message: str) -> None:
        if not self.quiet:
            name = "<stdin>" if src == "-" else src
            self.console.print(f"[dim]nsc: {escape(name)}: {escape(message)}[/]")

    def advance(self, audio_s: float, bytes_out: int) -> None:
        self.done_s += audio_s
        self.bytes += bytes_out
        if self.progress is not None:
            wall = max(time.perf_counter() - self.t0, 1e-9)
            kbps = self.bytes * 8 / self.done_s / 1000 if self.done_s else 0.0
            self.progress.update(self.task, advance=audio_s, speed=f"{self.done_s / wall:,.0f}x real time",
                                 rate=f"{kbps:.2f} kbit/s")

    def file_done(self, result: FileResult) -> None:
        pass

    def close(self) -> None:
        """Remove the bar."""
        if self.progress is not None:
            self.progress.stop()
            self.progress = None

    def summary(self, report: BatchReport) -> int:
        """Print the closing summary and failures; return the exit code (0 or 1)."""
        self.close()
        failed = report.failed
        ok = report.ok
        if not self.quiet and (ok or not failed):
            nbytes = sum(r.bytes_out if self.verb == "encoded" else r.bytes_in for r in ok)
            kbps = nbytes * 8 / report.audio_s / 1000 if report.audio_s else 0.0
            files = f"{len(ok)} file" + ("s" if len(ok) != 1 else "")
            self.console.print(
                f"nsc: {self.verb} {files}, {fmt_duration(report.audio_s)} of audio "
                f"({report.audio_s / 3600:.3f} h) in {report.wall_s:.2f} s "
                f"({report.speed:,.0f}x real time), {kbps:.2f} kbit/s"
                + (f"; {len(failed)} failed" if failed else "")
            )
        if failed:
            error(f"{len(failed)} of {len(report.results)} input" + ("s" if len(report.results) != 1 else "")
                  + " failed:")
            for r in failed:
                err_console.print(f"  {escape(r.error or r.src)}")
            return EXIT_FAILED
        return EXIT_OK


def run_cli(body: Callable[[], int]) -> None:
    """Run a command body under :func:`cli_errors` and exit with the code it returns."""
    with cli_errors():
        code = body()
    raise typer.Exit(code)


def stdout_is_data(jobs) -> bool:
    """True when an output goes to standard output (then nothing else may be printed there)."""
    return any(j.dst == "-" for j in jobs)


def flush_stdout() -> None:
    """Flush standard output's byte stream (pipes)."""
    out = getattr(sys.stdout, "buffer", sys.stdout)
    try:
        out.flush()
    except (OSError, ValueError):
        pass


def plan_or_exit(inputs, output, *, mode: str, nothing: str):
    """The engine's jobs for INPUT... and -o, or a usage error (exit 2) naming what was missing.

    ``nothing`` completes "no ... found in the inputs given" (e.g. "audio files").
    """
    from ..engine import plan_jobs
    from ..errors import NscError

    try:
        jobs = plan_jobs(inputs, output, mode=mode)
    except NscError as e:
        raise usage_error(str(e)) from None
    if not jobs:
        raise usage_error(f"no {nothing} found in the inputs given")
    return jobs
