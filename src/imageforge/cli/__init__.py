"""The ``imageforge`` command line: thin — parse flags, call one library function, render."""

from imageforge.cli._app import app, main, run

__all__ = ["app", "main", "run"]
