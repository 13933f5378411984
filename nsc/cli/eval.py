"""`nsc eval` (placeholder until its owner lands it)."""

import typer


def eval_cli() -> None:
    """Not implemented yet."""
    raise typer.Exit(2)
