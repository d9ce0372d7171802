"""``build --isolation none`` where Kaniko runs: inside a podman container started with no
``--privileged``, no added capability and the default seccomp profile. The container's
image is the busybox test base; this machine's Debian userland (``/usr``), Python, the
virtualenv and this checkout are bind-mounted read-only, so the build runs the code
under test. The images it writes to a bind-mounted OCI layout equal the normal builder's
(root filesystem and config) from the same inputs; ``--user 1000`` is refused clearly."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import imageforge
from tests.builder.conftest import ok
from tests.builder.test_buildah_diff import (
    _BUILD_ARGS,
    _FIELDS,
    CASES,
    _config,
    _make_context,
    _unpack,
)
from tests.builder.test_buildah_diff import tree as image_tree
from tests.conftest import containers_env, need_binary, requires_root, run_cli

pytestmark = [requires_root, pytest.mark.slow]

SRC = Path(imageforge.__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def podman(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[list[str], dict[str, str]]]:
    binary = need_binary("podman")
    work = Path(tempfile.mkdtemp(prefix="ifpod-", dir="/tmp"))
    env = containers_env(work)
    cmd = [binary, "--root", str(work / "root"), "--runroot", str(work / "run")]
    yield [*cmd, "--storage-driver", "overlay"], env
    subprocess.run([*cmd, "rm", "--all", "--force"], env=env, capture_output=True, check=False)
    subprocess.run([*cmd, "system", "reset", "--force"], env=env, capture_output=True, check=False)
    subprocess.run(["rm", "-rf", str(work)], capture_output=True, check=False)


def _in_container(
    podman: tuple[list[str], dict[str, str]],
    base_layout: Path,
    mounts: dict[Path, str],
    args: list[str],
    *,
    user: str | None = None,
) -> subprocess.CompletedProcess[str]:
    cmd, env = podman
    python = Path(sys.executable)
    readonly = {
        Path("/usr"): "/usr",
        Path("/usr/lib"): "/lib",  # the dynamic loader's path (merged /usr)
        Path("/usr/lib64"): "/lib64",
        Path(sys.base_prefix).resolve(): str(Path(sys.base_prefix).resolve()),
        Path(sys.prefix).resolve(): str(Path(sys.prefix).resolve()),
        SRC: "/opt/imageforge/src",
    }
    if Path(sys.base_prefix).resolve().is_relative_to("/root"):  # 0700 in the image too
        shown = Path(tempfile.mkdtemp(prefix="root-", dir=Path(env["CONTAINERS_CONF"]).parent))
        inner = Path(sys.base_prefix).resolve().relative_to("/root")
        (shown / inner).mkdir(parents=True, mode=0o755)  # the mount point, made here
        for d in [shown, *(shown / p for p in inner.parents if str(p) != ".")]:
            d.chmod(0o755)  # an empty /root another user may pass through to Python
        readonly[shown] = "/root"
    volumes = [f"{host}:{inside}:ro" for host, inside in readonly.items()]
    volumes += [f"{host}:{inside}" for host, inside in mounts.items()]
    return subprocess.run(
        [
            *cmd,
            "run",
            "--rm",
            "--network",
            "none",
            *(["--user", user] if user else []),
            *(arg for v in volumes for arg in ("-v", v)),
            "-e",
            "PYTHONPATH=/opt/imageforge/src",
            "-e",
            "TMPDIR=/tmp",
            f"oci:{base_layout}:busybox",
            str(Path(sys.prefix) / "bin" / python.name),
            "-m",
            "imageforge",
            *args,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_build_in_an_unprivileged_container_equals_the_normal_builders(
    case: str,
    tmp_path: Path,
    base_layout: Path,
    podman: tuple[list[str], dict[str, str]],
) -> None:
    ctx = _make_context(tmp_path / "ctx", case, "oci:/base:busybox")
    args = _BUILD_ARGS.get(case, [])
    out = tmp_path / "out"
    out.mkdir()
    proc = _in_container(
        podman,
        base_layout,
        {base_layout: "/base", ctx: "/ctx", out: "/out"},
        ["--root", "/tmp/store", "build", "/ctx", *args, "--isolation", "none"]
        + ["--progress", "plain", "--output", f"oci:/out/layout:{case}"],
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "isolation none" in proc.stderr
    # the same Dockerfile on the host, with the normal builder, from the same base
    (ctx / "Dockerfile").write_text(
        (ctx / "Dockerfile").read_text().replace("oci:/base:busybox", f"oci:{base_layout}:busybox")
    )
    normal = tmp_path / "normal"
    ok(
        run_cli(
            ["--root", str(tmp_path / "store"), "build", str(ctx), *args]
            + ["--output", f"oci:{normal}:{case}"],
            timeout=300,
        )
    )
    ours = out / "layout"
    for field in _FIELDS:
        assert _config(ours, case).get(field) == _config(normal, case).get(field), field
    assert image_tree(_unpack(ours, case, tmp_path / "u-ours")) == image_tree(
        _unpack(normal, case, tmp_path / "u-normal")
    )


def test_a_container_user_other_than_root_is_refused_clearly(
    tmp_path: Path, base_layout: Path, podman: tuple[list[str], dict[str, str]]
) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM oci:/base:busybox\nRUN true\n")
    proc = _in_container(
        podman,
        base_layout,
        {base_layout: "/base", ctx: "/ctx"},
        ["--root", "/tmp/store", "build", "/ctx", "--isolation", "none", "-t", "x"],
        user="1000",
    )
    assert proc.returncode != 0
    assert "--isolation none runs as uid 0 and this process runs as uid 1000" in proc.stderr


def test_system_check_in_the_container_suggests_isolation_none(
    base_layout: Path, podman: tuple[list[str], dict[str, str]]
) -> None:
    proc = _in_container(
        podman, base_layout, {}, ["--root", "/tmp/store", "system", "check", "--format", "json"]
    )
    report = json.loads(proc.stdout)
    items = {item["name"]: item for item in report["items"]}
    assert not items["overlayfs"]["ok"]  # no CAP_SYS_ADMIN: no mounts
    assert items["isolation"]["ok"], items["isolation"]
    assert items["isolation"]["data"] == {"suggested": "none"}
    assert "build with --isolation none" in items["isolation"]["summary"]
