"""``imageforge doctor``: the cause of a failed build and its fix, from the last failed
build the store recorded (``--last``) or a saved build log."""

from __future__ import annotations

from pathlib import Path

import click

from imageforge.cli._app import app
from imageforge.cli._options import GlobalOptions, OutputFormat, format_option
from imageforge.cli._render import print_json
from imageforge.errors import InvalidArgument, NotFound
from imageforge.pipeline._build_history import last_failed
from imageforge.pipeline._doctor import diagnose, failed_build_from_log

_MAX_LOG = 16 * 1024 * 1024


def _read_log(path: Path) -> str:
    try:
        with path.open("rb") as f:
            raw = f.read(_MAX_LOG + 1)
    except FileNotFoundError:
        raise NotFound(f"build log {path} does not exist") from None
    except IsADirectoryError:
        raise InvalidArgument(f"{path} is a directory, not a build log") from None
    except OSError as exc:
        raise InvalidArgument(f"build log {path} cannot be read: {exc.strerror}") from None
    if len(raw) > _MAX_LOG:
        raw = raw[-_MAX_LOG:]  # the end of a long log is where the error is
    return raw.decode("utf-8", errors="replace")


@app.command("doctor")
@click.argument("log", required=False, type=click.Path(path_type=Path))
@click.option("--last", is_flag=True, help="The last failed build of this store (the default).")
@format_option
@click.pass_obj
def doctor_command(opts: GlobalOptions, log: Path | None, last: bool, fmt: OutputFormat) -> None:
    """Name the cause of a failed build and its fix: the last failed build this store
    recorded (--last, the default), or BUILD-LOG, a build's saved output. Knows a missing
    or .dockerignore'd COPY source, network and DNS failures, a full disk, a binary of
    another platform (exec format error), permission denied after USER, a command not in
    the image, and dependency conflicts from pip, npm, apt and Maven (naming the packages
    and versions, and the line that pins one).
    """
    if log is not None and last:
        raise InvalidArgument("give BUILD-LOG or --last, not both")
    if log is not None:
        build = failed_build_from_log(_read_log(log), str(log))
    else:
        found = last_failed(opts.root)
        if found is None:
            raise NotFound(
                f"no failed build is recorded in {opts.root}",
                hint="doctor reads the last failed imageforge build; give BUILD-LOG for another",
            )
        build = found
    diagnosis = diagnose(build)
    if fmt is OutputFormat.JSON:
        print_json({"build": build.to_json(), "diagnosis": diagnosis.to_json()})
        return
    where = f"{build.dockerfile}:{build.line}" if build.dockerfile and build.line else ""
    click.echo(f"cause: {diagnosis.cause}{f' ({where})' if where else ''}")
    click.echo(f"what happened: {diagnosis.summary}")
    for detail in diagnosis.details:
        click.echo(f"  - {detail}")
    click.echo(f"fix: {diagnosis.fix}")


__all__ = ["doctor_command"]
