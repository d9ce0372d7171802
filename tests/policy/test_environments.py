"""``[environments.NAME]``: the lifecycle's places and gates, and bad files refused
with the file, the key path and what is expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from imageforge.errors import InvalidArgument
from imageforge.policy import EnvironmentPolicy, load_policy

GOOD = """
[environments.dev]
registry = "127.0.0.1:5000"
project = "team"
lint-threshold = "error"

[environments.test]
registry = "127.0.0.1:5001"
project = "team"

[environments.prod]
registry = "127.0.0.1:5002"
project = "team"
severity = ["CRITICAL", "HIGH"]
min-cvss = 7
allowlist = ["CVE-2023-32681"]
signatures = ["keys/release.pub"]
attestations = ["slsaprovenance1"]
trusted-builder = "https://imageforge.dev/builder"
sbom = true
max-size = "200MB"
lowest-efficiency = 0.9
non-root = true
"""


def test_environments_in_file_order_with_their_gates(tmp_path: Path) -> None:
    (tmp_path / "imageforge.toml").write_text(GOOD)
    policy = load_policy(tmp_path / "imageforge.toml")
    assert [e.name for e in policy.environments] == ["dev", "test", "prod"]
    prod = policy.environment("prod")
    assert prod == EnvironmentPolicy(
        name="prod",
        registry="127.0.0.1:5002",
        project="team",
        severity=("CRITICAL", "HIGH"),
        min_cvss=7.0,
        allowlist=("CVE-2023-32681",),
        signatures=(tmp_path / "keys" / "release.pub",),
        attestations=("slsaprovenance1",),
        trusted_builder="https://imageforge.dev/builder",
        sbom=True,
        max_size="200MB",
        lowest_efficiency=0.9,
        non_root=True,
    )
    assert prod.repository("app:1.0") == "127.0.0.1:5002/team/app:1.0"
    assert policy.next_environment("dev") == policy.environment("test")
    assert policy.next_environment("prod") is None


def test_an_environment_not_in_the_file_is_named_with_those_that_are(tmp_path: Path) -> None:
    (tmp_path / "imageforge.toml").write_text(GOOD)
    with pytest.raises(InvalidArgument, match="no environment 'staging'") as err:
        load_policy(tmp_path / "imageforge.toml").environment("staging")
    assert "dev, test, prod" in (err.value.hint or "")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('registry = "r"\nsevrity = ["HIGH"]', "environments.dev.sevrity: unknown key"),
        ('registry = "r"\nmin-cvss = "high"', "environments.dev.min-cvss: 'high' is not of type"),
        ('registry = "r"\nmin-cvss = 11', "environments.dev.min-cvss: 11 is greater than"),
        ('registry = "r"\nseverity = ["SEVERE"]', "environments.dev.severity.0: 'SEVERE'"),
        ('registry = "r"\nnon-root = "yes"', "environments.dev.non-root: 'yes' is not of type"),
        ('registry = "r"\nmax-size = "2 potatoes"', "environments.dev.max-size"),
        ('project = "team"', "environments.dev: 'registry' is a required property"),
        ('registry = "r"\nsbom = true', "environments.dev.sbom: attestations are verified"),
        ('registry = "not a host"', "environments.dev.registry"),
    ],
)
def test_bad_environment_settings_are_named(tmp_path: Path, body: str, expected: str) -> None:
    path = tmp_path / "imageforge.toml"
    path.write_text(f"[environments.dev]\n{body}\n")
    with pytest.raises(InvalidArgument) as err:
        load_policy(path)
    assert expected in str(err.value)
    assert str(path) in str(err.value)  # which file
    assert err.value.hint  # what is expected


def test_environments_must_be_tables(tmp_path: Path) -> None:
    path = tmp_path / "imageforge.toml"
    path.write_text('environments = "dev"\n')
    with pytest.raises(InvalidArgument, match="environments: 'dev' is not of type 'object'"):
        load_policy(path)
