"""``FROM host:port/repo:tag`` and ``FROM repo@sha256:...`` pulled from a registry."""

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


def _build(root: Path, context: Path, text: str, tag: str) -> str:
    (context / "Dockerfile").write_text(text)
    args = ["--root", str(root), "build", str(context), "-t", tag, "--tls-verify=false"]
    return ok(run_cli([*args, "--progress", "plain"])).stdout.strip()


def test_from_a_registry_pulls_the_base_once_and_builds(
    ours: Server, authfile: Path, base_layout: Path, tmp_path: Path
) -> None:
    login_ours(ours)
    base = f"{ours.host}/library/busybox"
    pushed = ok(
        run_cli(["copy", f"oci:{base_layout}:busybox", f"docker://{base}:1", "--tls-verify=false"])
    ).stdout.strip()
    root, context = tmp_path / "root", tmp_path / "ctx"
    context.mkdir()

    _build(root, context, f"FROM {base}:1\nRUN echo from-registry > /hello\n", "out:1")
    images = json.loads(ok(run_cli(["--root", str(root), "images", "--format", "json"])).stdout)
    assert {f"{i['repository']}:{i['tag']}" for i in images} == {f"{base}:1", "out:1"}
    r = ok(run_cli(["--root", str(root), "run", "out:1", "cat", "/hello"]))
    assert r.stdout == "from-registry\n"

    # by digest: pulled too (under its digest name)
    _build(root, context, f"FROM {base}@{pushed}\nRUN echo by-digest > /hello\n", "dig:1")
    r = ok(run_cli(["--root", str(root), "run", "dig:1", "cat", "/hello"]))
    assert r.stdout == "by-digest\n"

    # the base is in the store now: a build works with the registry gone
    ours.stop()
    _build(root, context, f"FROM {base}:1\nRUN echo offline > /hello\n", "out:2")
    r = ok(run_cli(["--root", str(root), "run", "out:2", "cat", "/hello"]))
    assert r.stdout == "offline\n"
    # and a base that is neither here nor reachable fails with the registry named
    (context / "Dockerfile").write_text(f"FROM {base}:missing\n")
    r = run_cli(["--root", str(root), "build", str(context), "-t", "x:1", "--tls-verify=false"])
    assert r.returncode == 10 and ours.host in r.stderr, r.stderr
