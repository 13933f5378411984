"""`nsc decode` (placeholder until its owner lands it)."""

import typer


def decode_cli() -> None:
    """Not implemented yet."""
    raise typer.Exit(2)
