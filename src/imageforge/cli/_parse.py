"""``imageforge parse``: show how the Dockerfile frontend reads a Dockerfile."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from imageforge.cli._app import app
from imageforge.cli._render import print_json
from imageforge.dockerfile import dump_ast, parse, parse_ast
from imageforge.errors import NotFound


def _read(path: str) -> tuple[bytes, str]:
    if path == "-":
        return sys.stdin.buffer.read(), "<stdin>"
    try:
        return Path(path).read_bytes(), path
    except FileNotFoundError:
        raise NotFound(
            f"no such Dockerfile: {path}", hint="give the path of a Dockerfile"
        ) from None
    except IsADirectoryError:
        raise NotFound(
            f"{path} is a directory, not a Dockerfile", hint=f"try {path}/Dockerfile"
        ) from None


@app.command("parse")
@click.argument("dockerfile", default="Dockerfile", metavar="[DOCKERFILE]")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["ast", "json", "text"]),
    default="ast",
    show_default=True,
    help="ast (or text): BuildKit's parser-test text (one s-expression per instruction); "
    "json: typed instructions by stage, with positions and warnings.",
)
def parse_command(dockerfile: str, fmt: str) -> None:
    """Parse DOCKERFILE (default ./Dockerfile, - for stdin) as BuildKit does.

    ast checks only the syntax, as BuildKit's parser does; json also checks every
    instruction (flags, arguments, stages). Errors name file:line:col and exit 2.
    """
    data, name = _read(dockerfile)
    if fmt in ("ast", "text"):
        text = dump_ast(parse_ast(data, file=name))
        sys.stdout.buffer.write(text.encode("utf-8", "surrogateescape"))
        sys.stdout.flush()
        return
    print_json(parse(data, file=name).to_json())
