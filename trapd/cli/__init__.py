"""The `trapd` command line (see main.py)."""

from trapd.cli.main import main

__all__ = ["main"]
