"""The ``imageforge`` command: global options, sub-command registry, error rendering."""

from __future__ import annotations

import contextlib
import errno
import importlib
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import click

from imageforge import __version__
from imageforge.cli._exit import (
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    exit_code_for,
)
from imageforge.cli._options import (
    LOG_LEVELS,
    GlobalOptions,
    configure_logging,
    default_root,
)
from imageforge.cli._summaries import SUMMARIES
from imageforge.errors import ErrorKind, ImageforgeError

__all__ = ["app", "main", "run"]

# Verbosity as parsed so far; read when rendering an error that escaped a command.
_verbosity = {"level": 0}


# Each command's module, imported only when the command is used (or help lists them):
# importing every module (registry server, builder, analyzer) costs most of a second.
_LAZY: dict[str, tuple[str, ...]] = {
    "analyze": ("_analyze",),
    "bootstrap": ("_bootstrap",),
    "build": ("_build",),
    "run": ("_build",),
    "context": ("_context",),
    "doctor": ("_doctor",),
    "import": ("_images",),
    "export": ("_images",),
    "images": ("_images",),
    "key": ("_sign",),
    "inspect": ("_images",),
    "tag": ("_images",),
    "rmi": ("_images",),
    "prune": ("_images",),
    "lint": ("_lint",),
    "manifest": ("_manifest",),
    "login": ("_remote",),
    "logout": ("_remote",),
    "pull": ("_remote",),
    "push": ("_remote",),
    "copy": ("_remote",),
    "ls-tags": ("_remote",),
    "parse": ("_parse",),
    "promote": ("_ship",),
    "rescan": ("_rescan",),
    "retire": ("_ship",),
    "ship": ("_ship",),
    "registry": (
        "_registry",
        "_registry_admin",
        "_registry_scan",
        "_registry_retention",
        "_registry_webhooks",
        "_registry_replication",
        "_registry_deploy",
    ),
    "sbom": ("_sbom",),
    "scan": ("_scan",),
    "sign": ("_sign_image",),
    "verify": ("_sign_image",),
    "attest": ("_sign_image",),
    "verify-attestation": ("_sign_image",),
    "stats": ("_stats",),
    "system": ("_system",),
    "tune": ("_tune",),
    "vulndb": ("_vulndb",),
}

# Commands that mount, unpack layers or run containers: a user who is not root runs them
# inside a user namespace with subordinate ids (rootless mode, as podman does). ``system``
# (check) goes in to probe what builds will meet, and goes on outside if it cannot, to
# report why.
_USERNS_COMMANDS = frozenset(
    {"build", "run", "tune", "bootstrap", "import", "prune", "rmi", "system"}
)
_REPORTS_FAILURE = frozenset({"system"})
# ctx.meta keys: the RootlessPlan entered, or the Unavailable error that prevented it.
ROOTLESS_PLAN = "imageforge.rootless_plan"
ROOTLESS_FAILURE = "imageforge.rootless_failure"


def _enter_rootless(ctx: click.Context) -> None:
    """As a user other than root, go on inside a user namespace (see
    :func:`imageforge.runtime.enter_user_namespace`); the process outside only waits and
    exits with the command's exit code."""
    path = ctx.command_path.split()
    if os.geteuid() == 0 or len(path) < 2 or path[1] not in _USERNS_COMMANDS:
        return
    if ctx.params.get("isolation") == "none":
        return  # needs no namespace, and refuses a non-zero uid itself (Kaniko's way)
    from imageforge.runtime import enter_user_namespace, rootless_plan

    try:
        plan = rootless_plan()
        ctx.meta[ROOTLESS_PLAN] = plan
        code = enter_user_namespace(plan)
    except ImageforgeError as exc:
        if path[1] not in _REPORTS_FAILURE:
            raise
        ctx.meta[ROOTLESS_FAILURE] = exc
        return
    if code is not None:
        ctx.exit(code)


class _Command(click.Command):
    """Every sub-command: its options are parsed (so ``--help`` and usage errors need no
    namespace) before it enters the user namespace it needs."""

    def invoke(self, ctx: click.Context) -> Any:
        _enter_rootless(ctx)
        return super().invoke(ctx)


class _Group(click.Group):
    command_class = _Command
    group_class = type


class _LazyGroup(click.Group):
    """A group whose sub-commands attach themselves when their module is imported."""

    command_class = _Command
    group_class = _Group

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.commands) | set(_LAZY))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in _LAZY:
            for module in _LAZY[cmd_name]:
                importlib.import_module(f"imageforge.cli.{module}")
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The list of commands in ``--help``, as click writes it, without importing the
        command modules: one not imported yet is listed by its summary
        (``_summaries``), which click shortens to fit as it would the command's help."""
        listed = click.Group(
            commands={
                name: self.commands.get(name) or click.Command(name, help=SUMMARIES[name])
                for name in self.list_commands(ctx)
            }
        )
        listed.format_commands(ctx, formatter)


@click.group(
    name="imageforge",
    cls=_LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="Store root (default: $IMAGEFORGE_ROOT, else /var/lib/imageforge as root, "
    "else ~/.local/share/imageforge).",
)
@click.option(
    "-v",
    "--verbose",
    count=True,
    help="More diagnostics on stderr (and tracebacks); -vv for debug.",
)
@click.option(
    "--log-level",
    type=click.Choice(LOG_LEVELS, case_sensitive=False),
    help="Diagnostics level; wins over -v.",
)
@click.version_option(__version__, prog_name="imageforge", message="%(prog)s %(version)s")
@click.pass_context
def app(ctx: click.Context, root: Path | None, verbose: int, log_level: str | None) -> None:
    """Lint, build, run, analyse, inventory (SBOM), push, pull, sign and serve container images."""
    _verbosity["level"] = verbose
    level = log_level.lower() if log_level else None
    configure_logging(verbose, level)
    # The root is found before entering a user namespace, where the user would be root.
    ctx.obj = GlobalOptions(root=root or default_root(), verbose=verbose, log_level=level)


# Dropped from an error as rich's console dropped them when it printed errors: bell,
# backspace, vertical tab, form feed and carriage return (no message moves the cursor
# back over what it printed). Errors are printed without rich: importing it would cost
# every command that fails, and every short command, a large share of its start.
_DROPPED = dict.fromkeys((7, 8, 11, 12, 13))


def _print_error(exc: ImageforgeError) -> None:
    lines = [f"error: {exc}"] + ([f"hint: {exc.hint}"] if exc.hint else [])
    sys.stderr.write("".join(f"{x.translate(_DROPPED).expandtabs()}\n" for x in lines))
    sys.stderr.flush()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``imageforge`` command and return its exit code."""
    return run(app, argv)


def run(command: click.Command, argv: Sequence[str] | None = None) -> int:
    """Run ``cli`` and return the exit code: never raises, never prints a traceback
    unless -v was given; every :class:`ImageforgeError` becomes ``error: ...`` plus a
    hint and the exit code of its kind."""
    _verbosity["level"] = 0
    args = list(sys.argv[1:] if argv is None else argv)
    with _terminate_as_interrupt():
        return _run(command, args)


def _interrupted(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (``docker stop``, ``kill``, a CI job cancelled) ends a command as Ctrl-C
    does: running containers killed, mounts and temporary files cleaned up, exit 130,
    where Python's default would die at once and leave them. Only where nobody else
    handles SIGTERM (a server installs its own)."""
    mine = threading.current_thread() is threading.main_thread() and (
        signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    )
    if mine:
        signal.signal(signal.SIGTERM, _interrupted)
    try:
        yield
    finally:
        if mine:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _run(command: click.Command, args: list[str]) -> int:
    try:
        rv = command.main(args=args, prog_name="imageforge", standalone_mode=False)
    except ImageforgeError as exc:
        if _verbosity["level"]:
            _print_traceback()
        _print_error(exc)
        return exit_code_for(exc.kind)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code if exc.exit_code else EXIT_USAGE
    except (click.Abort, KeyboardInterrupt):
        print("error: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (``imageforge ... | head``): not an error of ours.
        sys.stderr.close()
        return EXIT_OK
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            return _internal(exc)
        if _verbosity["level"]:
            _print_traceback()
        where = f" writing {exc.filename}" if exc.filename else ""
        print(f"error: no space left on device{where}", file=sys.stderr)
        print(
            "hint: free space (imageforge prune, imageforge rmi) or point --root or TMPDIR "
            "at a larger filesystem",
            file=sys.stderr,
        )
        return exit_code_for(ErrorKind.UNAVAILABLE)
    except Exception as exc:  # a bug: say so in one line, the traceback only with -v
        return _internal(exc)
    return rv if isinstance(rv, int) else EXIT_OK


def _print_traceback() -> None:
    import traceback  # only with -v, after an error: not worth its import on every start

    traceback.print_exc()


def _internal(exc: BaseException) -> int:
    if _verbosity["level"]:
        _print_traceback()
    print(f"error: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
    print("hint: run again with -v for the traceback and report it", file=sys.stderr)
    return EXIT_INTERNAL
