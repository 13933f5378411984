"""``python -m nsc`` runs the command line."""

from .cli import main

main()
