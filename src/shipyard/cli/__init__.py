"""The `shipyard` command line."""

from shipyard.cli.app import app, main

__all__ = ["app", "main"]
