"""`nsc train` (placeholder until its owner lands it)."""

import typer


def train_cli() -> None:
    """Not implemented yet."""
    raise typer.Exit(2)
