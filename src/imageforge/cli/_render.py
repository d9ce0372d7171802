"""Output helpers: JSON for machines, rich tables for people; both to stdout."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported when a table is printed: rich costs a short command a lot
    from rich.console import Console

__all__ = ["print_json", "stdout_console"]


def stdout_console() -> Console:
    """A console on the current stdout. On a terminal tables fit its width; piped, they
    keep every character (digests are not cut to fit 80 columns), as docker does."""
    from rich.console import Console

    if sys.stdout.isatty():
        return Console(file=sys.stdout, highlight=False, soft_wrap=False, emoji=False)
    return Console(file=sys.stdout, highlight=False, soft_wrap=False, width=250, emoji=False)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False) + "\n")
    sys.stdout.flush()
