"""The ``nsc`` command line: a Typer app with one module per subcommand.

Each subcommand module holds a thin ``*_cli`` wrapper around library code; only
this package prints or chooses exit codes (0 done, 1 some inputs failed, 2 usage).
"""

from __future__ import annotations

import typer

__all__ = ["app", "main"]

app = typer.Typer(
    name="nsc",
    help="Neural speech codec: encode speech to small .nsc files and back.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from .. import __version__

        typer.echo(f"nsc {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", "-V", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Neural speech codec: encode speech to small .nsc files and back."""


def _register() -> None:
    from . import decode, encode, eval, info, models, train

    app.command("encode")(encode.encode_cli)
    app.command("decode")(decode.decode_cli)
    app.command("info")(info.info_cli)
    app.command("models")(models.models_cli)
    app.command("train")(train.train_cli)
    app.command("eval")(eval.eval_cli)


_register()


def main() -> None:
    """Console-script entry point."""
    app()
