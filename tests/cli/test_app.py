from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest

import imageforge
from imageforge import errors
from imageforge.cli import run
from imageforge.cli._app import _LAZY, app
from imageforge.cli._exit import EXIT_CODES, EXIT_INTERNAL
from imageforge.cli._options import default_root
from imageforge.cli._summaries import SUMMARIES
from imageforge.errors import ErrorKind, ImageforgeError
from tests.conftest import run_cli

_BY_KIND: dict[ErrorKind, type[ImageforgeError]] = {
    cls.kind: cls
    for name in errors.__all__
    if isinstance(cls := getattr(errors, name), type)
    and issubclass(cls, ImageforgeError)
    and cls is not ImageforgeError
}


def _raising_app(exc: BaseException) -> click.Group:
    @click.group()
    def app() -> None:
        pass

    @app.command()
    def boom() -> None:
        raise exc

    @app.command()
    def fine() -> None:
        print("fine")

    return app


def test_exit_codes_are_distinct_and_never_1() -> None:
    codes = list(EXIT_CODES.values())
    assert len(set(codes)) == len(codes)
    assert 1 not in codes and 0 not in codes  # 1 is "ran and found problems"


@pytest.mark.parametrize("kind", list(ErrorKind))
def test_each_error_kind_exits_with_its_code_and_one_readable_line(
    kind: ErrorKind, capsys: pytest.CaptureFixture[str]
) -> None:
    exc = _BY_KIND[kind](f"something {kind.value} happened", hint="do the other thing")
    code = run(_raising_app(exc), ["boom"])
    out, err = capsys.readouterr()
    assert code == EXIT_CODES[kind]
    assert out == ""
    assert err.splitlines() == [
        f"error: something {kind.value} happened",
        "hint: do the other thing",
    ]
    assert "Traceback" not in err


def test_an_error_naming_hostile_text_cannot_move_the_cursor_back(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A name from an image or a file can carry a carriage return or backspaces that
    # would overwrite the start of the line on a terminal ("error:" hidden).
    exc = errors.NotFound("image 'x\r\x08\x08ok\x07\x0b\x0c' not\tfound", hint="a\rb")
    code = run(_raising_app(exc), ["boom"])
    _, err = capsys.readouterr()
    assert code == EXIT_CODES[ErrorKind.NOT_FOUND]
    # the tab becomes spaces to the next multiple of 8 columns, as a terminal shows it
    assert err.splitlines() == ["error: image 'xok' not".ljust(24) + "found", "hint: ab"]


def test_unexpected_exception_is_one_line_without_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = run(_raising_app(RuntimeError("kaput")), ["boom"])
    _, err = capsys.readouterr()
    assert code == EXIT_INTERNAL
    assert err.startswith("error: internal error: RuntimeError: kaput\n")
    assert "Traceback" not in err


def test_success_is_exit_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(_raising_app(RuntimeError()), ["fine"]) == 0
    assert capsys.readouterr().out == "fine\n"


def test_version() -> None:
    proc = run_cli(["--version"])
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"imageforge {imageforge.__version__}"


def test_help_lists_global_options_and_commands() -> None:
    proc = run_cli(["--help"])
    assert proc.returncode == 0
    for word in ("--root", "--verbose", "--log-level", "--version", "system"):
        assert word in proc.stdout


def test_each_commands_summary_is_the_start_of_its_own_help() -> None:
    # --help lists commands from _summaries without importing them: each summary must
    # say what the command's own help says first.
    ctx = click.Context(app)
    assert set(SUMMARIES) == set(_LAZY)
    for name, summary in SUMMARIES.items():
        command = app.get_command(ctx, name)
        assert command is not None
        assert command.get_short_help_str(limit=10**6) == summary, name


_ALL_IMPORTED = """
import importlib, sys
from imageforge.cli._app import _LAZY, main
for modules in _LAZY.values():
    for module in modules:
        importlib.import_module(f"imageforge.cli.{module}")
raise SystemExit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("columns", ["60", "80", "200"])
def test_help_lists_commands_as_with_every_command_imported(columns: str) -> None:
    listed = run_cli(["--help"], env={"COLUMNS": columns})
    env = {**os.environ, "COLUMNS": columns}
    eager = subprocess.run(
        [sys.executable, "-c", _ALL_IMPORTED, "--help"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert listed.returncode == 0
    assert "Commands:" in listed.stdout and "verify-attestation" in listed.stdout
    assert listed.stdout == eager.stdout


def test_unknown_command_is_a_usage_error() -> None:
    proc = run_cli(["frobnicate"])
    assert proc.returncode == 2
    assert "No such command 'frobnicate'" in proc.stderr
    assert proc.stdout == ""


def test_bad_log_level_is_a_usage_error() -> None:
    proc = run_cli(["--log-level", "loud", "system", "check"])
    assert proc.returncode == 2
    assert "Invalid value for '--log-level'" in proc.stderr


def test_root_option_must_come_before_the_command() -> None:
    proc = run_cli(["system", "check", "--root", "/tmp/x"])
    assert proc.returncode == 2
    assert "No such option" in proc.stderr


def test_default_root_follows_env_then_user(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("IMAGEFORGE_ROOT", str(tmp_path / "r"))
    assert default_root() == tmp_path / "r"
    monkeypatch.delenv("IMAGEFORGE_ROOT")
    monkeypatch.setattr("os.geteuid", lambda: 0)
    assert default_root() == Path("/var/lib/imageforge")
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    assert default_root() == tmp_path / ".local" / "share" / "imageforge"


@pytest.mark.parametrize("verbose", [False, True])
def test_real_error_is_one_line_and_traceback_only_with_verbose(
    tmp_path: Path, verbose: bool
) -> None:
    # A real error from a real command: the store root sits below a regular file.
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    args = ["--root", str(blocker / "sub"), "system", "check", "--progress", "quiet"]
    proc = run_cli(["-v", *args] if verbose else args)
    assert proc.returncode == EXIT_CODES[ErrorKind.UNAVAILABLE]
    assert re.search(
        r"^error: this machine cannot build images: the store root .* is unusable",
        proc.stderr,
        re.M,
    )
    assert re.search(r"^hint: ", proc.stderr, re.M)
    assert ("Traceback" in proc.stderr) is verbose


def test_every_command_module_is_known_to_the_lazy_loader() -> None:
    import importlib
    import pkgutil

    import imageforge.cli as cli_pkg
    from imageforge.cli._app import _LAZY, app

    for info in pkgutil.iter_modules(cli_pkg.__path__):
        importlib.import_module(f"imageforge.cli.{info.name}")
    assert set(app.commands) == set(_LAZY)
    registry = app.commands["registry"]
    assert isinstance(registry, click.Group) and "user" in registry.commands


# Words the top-level help may use for what imageforge does, and the command each needs.
_VERBS = {
    "lint": "lint",
    "build": "build",
    "run": "run",
    "analyse": "analyze",
    "inventory": "sbom",
    "push": "push",
    "pull": "pull",
    "serve": "registry",
    "scan": "scan",
    "sign": "sign",
    "promote": "promote",
    "tune": "tune",
    "ship": "ship",
}


def test_the_top_level_help_promises_only_commands_that_exist() -> None:
    from imageforge.cli import app

    proc = run_cli(["--help"])
    first = proc.stdout.split("\n\n")[1].strip()
    words = {w.strip(",.()").lower() for w in first.split()}
    promised = [verb for verb in _VERBS if verb in words]
    assert len(promised) >= 5, first
    ctx = click.Context(app)
    for verb in promised:
        assert app.get_command(ctx, _VERBS[verb]) is not None, f"help promises {verb!r}"


# Commands whose output is the container's or the server's own, not a result.
_NO_RESULT = {"run", "registry serve"}


def _leaves(command: click.Command, path: tuple[str, ...] = ()) -> list[tuple[str, click.Command]]:
    if not isinstance(command, click.Group):
        return [(" ".join(path), command)]
    ctx = click.Context(command)
    out = []
    for name in command.list_commands(ctx):
        sub = command.get_command(ctx, name)
        assert sub is not None
        out += _leaves(sub, (*path, name))
    return out


def test_every_command_that_prints_a_result_takes_format_text_and_json() -> None:
    """One flag for every command: ``--format``, with ``json`` for machines and ``text``
    for people (a command's own forms, table, ast, sarif, spdx-json..., beside them)."""
    from imageforge.cli import app

    leaves = dict(_leaves(app))
    assert _NO_RESULT <= set(leaves) and len(leaves) > 30
    lacking = []
    for path, command in leaves.items():
        if path in _NO_RESULT:
            continue
        options = [p for p in command.params if "--format" in p.opts]
        choices = options[0].type.choices if options else ()  # type: ignore[attr-defined]
        if not {"text", "json"} <= set(choices):
            lacking.append(f"{path}: {choices}")
    assert lacking == []
