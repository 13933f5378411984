"""`nsc encode` (placeholder until its owner lands it)."""

import typer


def encode_cli() -> None:
    """Not implemented yet."""
    raise typer.Exit(2)
