"""`nsc info` (placeholder until its owner lands it)."""

import typer


def info_cli() -> None:
    """Not implemented yet."""
    raise typer.Exit(2)
