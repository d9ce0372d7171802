"""``build --isolation none`` where Kaniko runs: inside a podman container started with no
``--privileged``, no added capability and the default seccomp profile. The container's
image is the busybox test base; this machine's Debian userland (``/usr``), Python, the
virtualenv and this checkout are bind-mounted read-only, so the build runs the code
under test. The images it writes to a bind-mounted OCI layout equal the normal builder's
(root filesystem and config) from the same inputs; ``--user 1000`` is refused clearly. A CI
pod's whole job runs there too: login, a context tar on stdin, a base pulled from and the
image and layer cache pushed to a registry on loopback (``--network host``)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
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
from tests.registry.conftest import ADMIN_PASSWORD, Server
from tests.remote.conftest import authfile, login_ours, ours

__all__ = ["authfile", "ours"]  # fixtures

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
    network: str = "none",
    environ: dict[str, str] | None = None,
    stdin: bytes | None = None,
) -> subprocess.CompletedProcess[str]:
    """``python -m imageforge ARGS`` in the container; ARGS ``["sh", "-c", SCRIPT]`` runs a
    shell script instead, where ``$IMAGEFORGE`` is that command."""
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
    imageforge = [str(Path(sys.prefix) / "bin" / python.name), "-m", "imageforge"]
    environ = {
        "PYTHONPATH": "/opt/imageforge/src",
        "TMPDIR": "/tmp",
        "IMAGEFORGE": " ".join(imageforge),
        **(environ or {}),
    }
    proc = subprocess.run(
        [
            *cmd,
            "run",
            "--rm",
            *(["-i"] if stdin is not None else []),
            "--network",
            network,
            *(["--user", user] if user else []),
            *(arg for v in volumes for arg in ("-v", v)),
            *(arg for k, v in environ.items() for arg in ("-e", f"{k}={v}")),
            f"oci:{base_layout}:busybox",
            *(args if args[:1] == ["sh"] else [*imageforge, *args]),
        ],
        capture_output=True,
        input=stdin if stdin is not None else b"",
        env=env,
        timeout=600,
        check=False,
    )
    return subprocess.CompletedProcess(
        proc.args, proc.returncode, proc.stdout.decode(), proc.stderr.decode()
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


def _context_tar(context: Path) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        tar.add(context, arcname=".")
    return out.getvalue()


def test_a_ci_pod_pulls_builds_from_stdin_pushes_and_shares_its_cache(
    tmp_path: Path,
    base_layout: Path,
    podman: tuple[list[str], dict[str, str]],
    ours: Server,
    authfile: Path,
) -> None:
    """What a Kaniko-style CI job does, in an unprivileged container on the host's network:
    log in, build a context tar read from stdin on a base pulled from the registry, push the
    image and the layer cache; a second, empty container builds from that cache, running no
    step. The pushed image equals the normal builder's from the same inputs."""
    base = f"{ours.host}/library/busybox:base"
    login_ours(ours)
    ok(run_cli(["copy", f"oci:{base_layout}:busybox", f"docker://{base}", "--tls-verify=false"]))
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "a.txt").write_text("from the context\n")
    run_steps = CASES["run"]["Dockerfile"].split("\n", 1)[1]
    (context / "Dockerfile").write_text(f"FROM {base}\nCOPY a.txt /opt/a.txt\n{run_steps}")
    image, cache = f"{ours.host}/library/app:1", f"docker://{ours.host}/library/app-cache"
    build = ["build", "-", "--isolation", "none", "--tls-verify=false", "--progress", "plain"]
    authdir = authfile.parent
    authfile.unlink()  # the pod logs in itself, into the mounted credentials directory
    pod = {"REGISTRY_AUTH_FILE": "/auth/auth.json", "PASSWORD": ADMIN_PASSWORD}

    first = _in_container(
        podman,
        base_layout,
        {authdir: "/auth"},
        ["sh", "-c"]
        + [
            f'echo "$PASSWORD" | $IMAGEFORGE login {ours.host} -u admin --password-stdin'
            " --tls-verify=false"
            f" && $IMAGEFORGE --root /tmp/store {' '.join(build)}"
            f" --output docker://{image} --cache-to {cache}"
        ],
        network="host",
        environ=pod,
        stdin=_context_tar(context),
    )
    assert first.returncode == 0, first.stdout + first.stderr
    assert "isolation none" in first.stderr
    assert authfile.is_file()  # login inside wrote the mounted credentials file

    del pod["PASSWORD"]  # the second pod only has the credentials file
    second = _in_container(
        podman,
        base_layout,
        {authdir: "/auth"},
        ["--root", "/tmp/store", *build, "-t", "app:2", "--cache-from", cache, "--format", "json"],
        network="host",
        environ=pod,
        stdin=_context_tar(context),
    )
    assert second.returncode == 0, second.stderr
    steps = [s for s in json.loads(second.stdout)["steps"] if s["kind"] == "fs"]
    assert steps and all(s["cached"] for s in steps), steps

    ours_layout, normal = tmp_path / "pulled", tmp_path / "normal"
    ok(run_cli(["copy", f"docker://{image}", f"oci:{ours_layout}:app", "--tls-verify=false"]))
    ok(
        run_cli(
            ["--root", str(tmp_path / "store"), "build", str(context), "--tls-verify=false"]
            + ["--output", f"oci:{normal}:app"],
            timeout=300,
        )
    )
    for field in _FIELDS:
        assert _config(ours_layout, "app").get(field) == _config(normal, "app").get(field), field
    assert image_tree(_unpack(ours_layout, "app", tmp_path / "u-ours")) == image_tree(
        _unpack(normal, "app", tmp_path / "u-normal")
    )
