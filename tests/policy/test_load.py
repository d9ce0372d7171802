from __future__ import annotations

from pathlib import Path

import pytest

from imageforge.errors import InvalidArgument, NotFound
from imageforge.policy import LintPolicy, Policy, find_policy, load_policy

TOML = """
[lint]
disable = ["IF102"]
enable = ["IF1", "IF5"]
severity = { IF501 = "error" }
trusted-registries = ["docker.io", "ghcr.io/acme"]
required-labels = ["org.opencontainers.image.source"]
failure-threshold = "error"

[scan]
anything = 1
"""


def test_imageforge_toml_gives_lint_its_section(tmp_path: Path) -> None:
    (tmp_path / "imageforge.toml").write_text(TOML)
    policy = load_policy(tmp_path / "imageforge.toml")
    assert policy.lint == LintPolicy(
        enable=("IF1", "IF5"),
        disable=("IF102",),
        severity=(("IF501", "error"),),
        trusted_registries=("docker.io", "ghcr.io/acme"),
        required_labels=("org.opencontainers.image.source",),
        failure_threshold="error",
    )


def test_pyproject_tool_table(tmp_path: Path) -> None:
    body = TOML.replace("[lint]", "[tool.imageforge.lint]").replace("[scan]", "[tool.x]")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n' + body)
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    found = find_policy(sub)
    assert found == tmp_path / "pyproject.toml"
    assert load_policy(found).lint.disable == ("IF102",)


def test_pyproject_without_the_table_is_not_a_policy(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert find_policy(tmp_path) != tmp_path / "pyproject.toml"
    pyproject = tmp_path / "pyproject.toml"
    assert load_policy(pyproject) == Policy(source=str(pyproject))


def test_nearest_imageforge_toml_wins(tmp_path: Path) -> None:
    (tmp_path / "imageforge.toml").write_text("[lint]\ndisable = ['IF101']\n")
    inner = tmp_path / "svc"
    inner.mkdir()
    (inner / "imageforge.toml").write_text("[lint]\ndisable = ['IF501']\n")
    assert find_policy(inner / "Dockerfile") == inner / "imageforge.toml"


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("[lint]\ndisabel = ['IF101']\n", "'disabel' was unexpected"),
        ("[lint]\nseverity = { IF501 = 'fatal' }\n", "lint.severity.IF501"),
        ("[lint]\nfailure-threshold = 'sometimes'\n", "lint.failure-threshold"),
        ("[lint]\ndisable = 'IF101'\n", "lint.disable"),
    ],
)
def test_bad_settings_are_named(tmp_path: Path, body: str, words: str) -> None:
    path = tmp_path / "imageforge.toml"
    path.write_text(body)
    with pytest.raises(InvalidArgument, match="invalid policy setting") as info:
        load_policy(path)
    assert words in info.value.message
    assert info.value.location is not None and info.value.location.file == str(path)


def test_bad_toml_is_located(tmp_path: Path) -> None:
    path = tmp_path / "imageforge.toml"
    path.write_text("[lint]\ndisable = [\n")
    with pytest.raises(InvalidArgument, match="not valid TOML") as info:
        load_policy(path)
    assert info.value.location is not None and info.value.location.line >= 2


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        load_policy(tmp_path / "nope.toml")
