"""`nsc train RECIPE.toml [--set key=value ...] [--resume CKPT] [--device auto]`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

__all__ = ["train_cli"]


def train_cli(
    recipe: Annotated[str, typer.Argument(help="TOML recipe: a path, or a packaged recipe name such as mscacodec-nb.")],
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="Override a setting, e.g. --set optim.lr=3e-4 (repeatable).")] = None,
    resume: Annotated[Optional[Path], typer.Option(
        "--resume", help="Checkpoint (last.ckpt) to resume from, under its stored settings; --set changes them.")] = None,
    device: Annotated[str, typer.Option("--device", help="auto (CUDA if present), cpu or cuda.")] = "auto",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
) -> None:
    """Train a codec from a recipe; checkpoints and best weights go to run.out_dir.

    Runs on every core of the CPU, on CUDA when present, and on several GPUs or
    nodes under torchrun (e.g. `torchrun --nproc_per_node 2 -m nsc train ...`).
    """
    err = Console(stderr=True)
    from ..errors import NscError
    from ..train.config import load_config, resume_config
    from ..train.loop import check_setup, read_checkpoint_config, train

    overrides = list(set_ or []) + [f"run.device={device}"]
    try:
        if resume is None:
            cfg = load_config(recipe, overrides)
        else:
            stored, step = read_checkpoint_config(resume)
            cfg = resume_config(recipe, stored, overrides)
            if not quiet:
                err.print(f"resuming {cfg.run.out_dir} at step {step} with the checkpoint's settings"
                          + (" and --set" if set_ else ""))
        check_setup(cfg, resume=resume is not None)
    except (FileNotFoundError, ValueError, NscError) as e:
        err.print(f"[red]error:[/] {e}")
        raise typer.Exit(2)
    try:
        metrics = train(cfg, resume=str(resume) if resume else None, progress=not quiet)
    except FileNotFoundError as e:
        err.print(f"[red]error:[/] {e}")
        raise typer.Exit(1)
    except KeyboardInterrupt:
        err.print("interrupted; resume from the last checkpoint with --resume")
        raise typer.Exit(1)
    if metrics and not quiet:
        Console().print("final validation: " + " ".join(f"{k} {v:.3f}" for k, v in metrics.items()))
