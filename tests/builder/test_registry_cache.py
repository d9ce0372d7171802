"""``build --cache-to/--cache-from docker://REF``: the build cache kept in a registry, so
CI pods that start empty share it (BuildKit's ``type=registry`` cache), with the
credentials ``login`` wrote."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.builder.conftest import ok
from tests.conftest import requires_root, run_cli
from tests.registry.conftest import Server
from tests.remote.conftest import authfile, login_ours, ours

pytestmark = [requires_root, pytest.mark.slow]
__all__ = ["authfile", "ours"]  # fixtures

DOCKERFILE = (
    "FROM busybox\nRUN echo ran > /ran\nRUN --mount=type=cache,target=/c echo warm > /c/state\n"
)


def _build(root: Path, context: Path, *args: str) -> tuple[int, str, str]:
    proc = run_cli(
        ["--root", str(root), "build", str(context), "--tls-verify=false", "--progress", "plain"]
        + list(args),
        timeout=300,
    )
    return proc.returncode, proc.stdout, proc.stderr


def _fresh(root: Path, base_layout: Path) -> Path:
    ok(run_cli(["--root", str(root), "import", f"oci:{base_layout}:busybox", "-t", "busybox"]))
    return root


def test_a_registry_cache_makes_a_fresh_runner_run_no_step(
    ours: Server, authfile: Path, base_layout: Path, tmp_path: Path
) -> None:
    login_ours(ours)
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(DOCKERFILE)
    cache = f"docker://{ours.host}/library/ci-cache"

    # The first runner: no cache in the registry yet, which is not an error.
    first = _fresh(tmp_path / "first", base_layout)
    rc, _, err = _build(first, context, "-t", "c:1", "--cache-from", cache, "--cache-to", cache)
    assert rc == 0, err
    assert f"cache: none at {cache}:build-cache yet; building without it" in err

    # A second, empty runner builds every step from the registry's cache.
    second = _fresh(tmp_path / "second", base_layout)
    rc, out, err = _build(second, context, "-t", "c:1", "--cache-from", cache, "--format", "json")
    assert rc == 0, err
    steps = json.loads(out)["steps"]
    assert [s["cached"] for s in steps if s["kind"] == "fs"] == [True, True]
    ran = ok(run_cli(["--root", str(second), "run", "c:1", "cat", "/ran"]))
    assert ran.stdout == "ran\n"
    (mount,) = (second / "cache-mounts").iterdir()  # the cache mount came along
    assert (mount / "state").read_text() == "warm\n"


def test_a_registry_tag_that_is_not_a_cache_is_refused(
    ours: Server, authfile: Path, base_layout: Path, tmp_path: Path
) -> None:
    login_ours(ours)
    image = f"{ours.host}/library/busybox:1"
    ok(run_cli(["copy", f"oci:{base_layout}:busybox", f"docker://{image}", "--tls-verify=false"]))
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(DOCKERFILE)
    root = _fresh(tmp_path / "root", base_layout)
    rc, _, err = _build(root, context, "-t", "c:1", "--cache-from", f"docker://{image}")
    assert rc != 0
    assert f"build cache docker://{image}: the manifest is not a build cache" in err
    assert "Traceback" not in err
    names = ok(run_cli(["--root", str(root), "images", "--format", "json"])).stdout
    assert "c:1" not in {f"{i['repository']}:{i['tag']}" for i in json.loads(names)}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("docker://127.0.0.1:9/c@sha256:" + "0" * 64, "written and read by tag, not by digest"),
        ("s3://bucket/cache", "expected oci:DIR or docker://REGISTRY/REPO[:TAG]"),
    ],
)
def test_cache_locations_are_checked_before_any_work(
    tmp_path: Path, value: str, message: str
) -> None:
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM busybox\n")
    rc, _, err = _build(tmp_path / "root", context, "-t", "x:1", "--cache-to", value)
    assert rc != 0 and message in err, err
