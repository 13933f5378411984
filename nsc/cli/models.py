"""`nsc models` (placeholder until its owner lands it)."""

import typer


def models_cli() -> None:
    """Not implemented yet."""
    raise typer.Exit(2)
