"""Options commands share: the store root, verbosity, output format, and how a
registry is reached (TLS, credentials file, platform)."""

from __future__ import annotations

import enum
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

__all__ = [
    "LOG_LEVELS",
    "GlobalOptions",
    "OutputFormat",
    "authfile_option",
    "configure_logging",
    "default_root",
    "format_option",
    "platform_option",
    "tls_option",
]

F = TypeVar("F", bound=Callable[..., Any])


class OutputFormat(enum.StrEnum):
    TABLE = "table"
    JSON = "json"


def format_option(func: F) -> F:
    """``--format table|json``: the convention of every command that prints a result
    (``text`` is taken for ``table``, the name the other commands use for it)."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice([*(f.value for f in OutputFormat), "text"]),
        default=OutputFormat.TABLE.value,
        show_default=True,
        callback=lambda _ctx, _param, value: OutputFormat("table" if value == "text" else value),
        help="table (or text) for people, json for machines.",
    )(func)


def tls_option(func: F) -> F:
    return click.option(
        "--tls-verify",
        "tls_verify",
        type=click.BOOL,
        default=True,
        is_flag=False,
        flag_value=True,
        metavar="BOOL",
        show_default=True,
        help="Check registry certificates; --tls-verify=false also allows plain HTTP.",
    )(func)


def authfile_option(func: F) -> F:
    return click.option(
        "--authfile",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Credentials file (default: $REGISTRY_AUTH_FILE, then the containers "
        "auth.json, then ~/.docker/config.json).",
    )(func)


def platform_option(func: F) -> F:
    return click.option(
        "--platform",
        default=None,
        metavar="OS/ARCH[/VARIANT]",
        help="The image of a multi-platform index to take (default: this machine's, else "
        "the index's only one).",
    )(func)


def default_root() -> Path:
    """``$IMAGEFORGE_ROOT``, else /var/lib/imageforge for root, else
    ``$XDG_DATA_HOME/imageforge`` (``~/.local/share/imageforge``), as podman does."""
    env = os.environ.get("IMAGEFORGE_ROOT")
    if env:
        return Path(env)
    if os.geteuid() == 0:
        return Path("/var/lib/imageforge")
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "imageforge"


@dataclass
class GlobalOptions:
    root: Path
    verbose: int = 0
    log_level: str | None = None


LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


def configure_logging(verbose: int, log_level: str | None) -> None:
    """Diagnostics go to stderr: warnings by default, info with -v, debug with -vv;
    ``--log-level`` wins over -v."""
    if log_level is not None:
        level = getattr(logging, log_level.upper())
    elif verbose >= 2:
        level = logging.DEBUG
    elif verbose == 1:
        level = logging.INFO
    else:
        level = logging.WARNING
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True
    )


remove_signatures_option = click.option(
    "--remove-signatures",
    is_flag=True,
    help="Leave signatures and attestations behind (by default they come along).",
)
