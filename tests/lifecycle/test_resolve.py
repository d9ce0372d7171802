"""Which environment an image named to ``promote`` is in, and the ship report page."""

from __future__ import annotations

import pytest

from imageforge.cli._ship import ship_html
from imageforge.errors import InvalidArgument
from imageforge.pipeline import ShipReport, Stage
from imageforge.pipeline._promote import resolve_in
from imageforge.policy import policy_from_mapping

POLICY = policy_from_mapping(
    {
        "environments": {
            "dev": {"registry": "127.0.0.1:5000", "project": "team"},
            "prod": {"registry": "registry.example"},
        }
    }
)


def test_a_full_reference_names_its_environment() -> None:
    ref, env, name = resolve_in(POLICY, "docker://127.0.0.1:5000/team/app:1", None)
    assert (str(ref), env and env.name, name) == ("127.0.0.1:5000/team/app:1", "dev", "app:1")
    ref, env, name = resolve_in(POLICY, "registry.example/app@sha256:" + "a" * 64, None)
    assert env is not None and env.name == "prod" and name.startswith("app@sha256:")


def test_a_short_name_is_looked_up_in_the_environment_given() -> None:
    ref, env, name = resolve_in(POLICY, "app:1", POLICY.environment("dev"))
    assert str(ref) == "127.0.0.1:5000/team/app:1" and name == "app:1"


def test_a_registry_outside_the_policy_is_no_environment() -> None:
    ref, env, name = resolve_in(POLICY, "other.example:5000/x/app:1", None)
    assert env is None and ref.domain == "other.example:5000" and name == "x/app:1"


def test_a_short_name_with_no_environment_before_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="names no registry"):
        resolve_in(POLICY, "app:1", None)


def test_the_report_page_escapes_what_it_shows() -> None:
    stage = Stage("lint", "failed", '<img src=x onerror="alert(1)">')
    page = ship_html(ShipReport("app:<1>", "dev", [stage]))
    assert "<img" not in page and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page
    assert "app:&lt;1&gt;" in page and "<script" not in page and "http" not in page
