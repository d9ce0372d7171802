"""``build --platform``: one build per target platform and one OCI index under the name,
foreign RUN steps through qemu-user (binfmt_misc), BuildKit's automatic platform args,
``FROM --platform=$BUILDPLATFORM`` stages run natively, a base index resolved to the
target's image, and bad input refused before any step runs. The arm64 base is Debian's
busybox-static for arm64 (``bootstrap busybox --arch arm64``): no registry is needed."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from imageforge.dockerfile import platform_arg
from imageforge.layers import FsView
from imageforge.oci import Platform, host_platform
from imageforge.pipeline import Session, open_image
from tests.bootstrap.conftest import Podman, podman  # noqa: F401 - a fixture
from tests.builder.conftest import ok
from tests.conftest import need_binary, requires_root, run_cli
from tests.registry.conftest import ADMIN_PASSWORD, Server
from tests.remote.conftest import (  # noqa: F401 - fixtures
    DIST_PASSWORD,
    DIST_USER,
    Distribution,
    authfile,
    distribution,
    ours,
)

pytestmark = [requires_root, pytest.mark.slow]

HOST = platform_arg(host_platform())
BOTH = "linux/amd64,linux/arm64"
NO_TLS = "--tls-verify=false"


@pytest.fixture(scope="module")
def bases(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with busybox-amd64, busybox-arm64 and busybox:multi, the index of both
    (made by a build with no step: its FROM names the base by TARGETARCH)."""
    root = tmp_path_factory.mktemp("platforms") / "store"
    for arch in ("amd64", "arm64"):
        cmd = ["bootstrap", "busybox", "--arch", arch, "-t", f"busybox-{arch}:latest"]
        ok(run_cli(["--root", str(root), *cmd], timeout=300))
    ctx = root.parent / "multi"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("ARG TARGETARCH\nFROM busybox-${TARGETARCH}\n")
    ok(run_cli(["--root", str(root), "build", str(ctx), "--platform", BOTH, "-t", "busybox:multi"]))
    return root


def _build(root: Path, ctx: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(
        ["--root", str(root), "build", str(ctx), "--progress", "plain", *args], timeout=300
    )


def _context(tmp_path: Path, dockerfile: str) -> Path:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(dockerfile)
    return ctx


def _read(root: Path, name: str, platform: str, path: str) -> str:
    with Session(root) as session, open_image(session, name, Platform.parse(platform)) as found:
        return FsView(found.image).read(path).decode()


def _index(root: Path, name: str) -> dict[str, object]:
    with Session(root) as session:
        obj = session.open(name)
        return dict(json.loads(obj.raw_manifest()))


ARGS = """\
ARG TARGETARCH
FROM busybox-${TARGETARCH}
ARG TARGETPLATFORM
ARG TARGETOS
ARG TARGETARCH
ARG TARGETVARIANT
ARG BUILDPLATFORM
ARG BUILDARCH
RUN echo "$TARGETPLATFORM $TARGETOS $TARGETARCH [$TARGETVARIANT] $BUILDPLATFORM $BUILDARCH" \
    > /args && uname -m > /machine
"""


def test_two_platforms_make_one_index_of_two_images_each_run_on_its_own_arch(
    bases: Path, tmp_path: Path
) -> None:
    ctx = _context(tmp_path, ARGS)
    proc = ok(_build(bases, ctx, "--platform", BOTH, "-t", "args:multi", "--format", "json"))
    out = json.loads(proc.stdout)
    assert out["mediaType"] == "application/vnd.oci.image.index.v1+json"
    assert [p["platform"] for p in out["platforms"]] == ["linux/amd64", "linux/arm64"]
    # each platform's progress is marked with it; the arm64 RUN went through qemu
    assert "[linux/arm64] RUN steps for linux/arm64/v8 run through" in proc.stderr
    index = _index(bases, "args:multi")
    assert index["mediaType"] == "application/vnd.oci.image.index.v1+json"
    assert str(index_digest := out["digest"]).startswith("sha256:")
    manifests = index["manifests"]
    assert isinstance(manifests, list)
    assert [m["platform"] for m in manifests] == [
        {"architecture": "amd64", "os": "linux"},
        {"architecture": "arm64", "os": "linux"},
    ]
    assert [m["digest"] for m in manifests] == [p["digest"] for p in out["platforms"]]
    build_arch = host_platform().architecture
    for plat, machine in (("linux/amd64", "x86_64"), ("linux/arm64", "aarch64")):
        arch = plat.split("/")[1]
        assert _read(bases, "args:multi", plat, "/machine").strip() == machine
        assert _read(bases, "args:multi", plat, "/args").strip() == (
            f"{plat} linux {arch} [] {HOST} {build_arch}"
        )
    with (
        Session(bases) as session,
        open_image(session, "args:multi", Platform.parse("linux/arm64")) as f,
    ):
        assert f.image.config().data["architecture"] == "arm64"
    # a second build of the same is wholly cached and names the same index
    again = ok(_build(bases, ctx, "--platform", BOTH, "-t", "args:multi"))
    assert again.stdout.strip() == index_digest


def test_one_foreign_platform_makes_a_plain_image_for_it(bases: Path, tmp_path: Path) -> None:
    ctx = _context(tmp_path, ARGS)
    proc = ok(_build(bases, ctx, "--platform", "linux/arm64", "-t", "args:arm64"))
    with Session(bases) as session:
        obj = session.open("args:arm64")
        assert json.loads(obj.raw_manifest())["mediaType"].endswith("manifest.v1+json")
    assert proc.stdout.strip() == str(obj.digest)
    assert _read(bases, "args:arm64", "linux/arm64", "/machine").strip() == "aarch64"


CROSS = """\
FROM --platform=$BUILDPLATFORM busybox:multi AS build
ARG TARGETARCH
RUN echo "built on $(uname -m) for $TARGETARCH" > /out
FROM build AS checked
RUN uname -m > /checked-on
FROM busybox:multi
COPY --from=checked /out /checked-on /
RUN uname -m > /runs-on
"""


def test_a_buildplatform_stage_runs_natively_and_the_base_index_gives_each_target(
    bases: Path, tmp_path: Path
) -> None:
    ctx = _context(tmp_path, CROSS)
    ok(_build(bases, ctx, "--platform", BOTH, "-t", "cross:multi"))
    native = {"amd64": "x86_64", "arm64": "aarch64"}[host_platform().architecture]
    for plat, machine, arch in (
        ("linux/amd64", "x86_64", "amd64"),
        ("linux/arm64", "aarch64", "arm64"),
    ):
        assert _read(bases, "cross:multi", plat, "/out").strip() == f"built on {native} for {arch}"
        assert _read(bases, "cross:multi", plat, "/checked-on").strip() == native
        assert _read(bases, "cross:multi", plat, "/runs-on").strip() == machine


def test_a_base_without_the_platform_is_refused_before_any_step(
    bases: Path, tmp_path: Path
) -> None:
    ctx = _context(tmp_path, "FROM busybox-amd64 AS first\nRUN touch /x\nFROM busybox:multi\n")
    proc = _build(bases, ctx, "--platform", "linux/s390x", "-t", "nope:s390x")
    assert proc.returncode != 0
    assert "busybox:multi: no image for linux/s390x in its index" in proc.stderr
    assert "linux/amd64, linux/arm64" in proc.stderr
    assert "RUN touch" not in proc.stderr  # no step ran
    missing = run_cli(["--root", str(bases), "inspect", "nope:s390x"])
    assert missing.returncode != 0


@pytest.mark.parametrize(
    ("platform", "says"),
    [
        ("linux/arm65", "unknown platform 'linux/arm65': no architecture 'arm65'"),
        ("linux/wasm", "RUN steps for linux/wasm cannot run here: no emulator is known"),
    ],
)
def test_bad_platforms_are_refused_before_any_step(
    bases: Path, tmp_path: Path, platform: str, says: str
) -> None:
    ctx = _context(tmp_path, "FROM busybox:multi\nRUN echo ran > /ran\n")
    proc = _build(bases, ctx, "--platform", platform, "-t", "bad:one")
    assert proc.returncode != 0
    assert says in proc.stderr
    assert "RUN echo ran" not in proc.stderr


def test_the_index_passes_skopeo_and_each_image_is_the_platforms(
    bases: Path, tmp_path: Path
) -> None:
    skopeo = need_binary("skopeo")
    layout = tmp_path / "layout"
    ok(run_cli(["--root", str(bases), "copy", "--all", "busybox:multi", f"oci:{layout}:multi"]))
    raw = subprocess.run(
        [skopeo, "inspect", "--raw", f"oci:{layout}:multi"], capture_output=True, text=True
    )
    assert raw.returncode == 0, raw.stderr
    index = json.loads(raw.stdout)
    assert {m["platform"]["architecture"] for m in index["manifests"]} == {"amd64", "arm64"}
    for arch in ("amd64", "arm64"):
        one = subprocess.run(
            [skopeo, "inspect", "--override-arch", arch, f"oci:{layout}:multi"],
            capture_output=True,
            text=True,
        )
        assert one.returncode == 0, one.stderr
        assert json.loads(one.stdout)["Architecture"] == arch


@pytest.mark.parametrize("registry", ["distribution", "imageforge"])
def test_a_pushed_two_platform_image_pulls_the_right_platform(
    bases: Path,
    tmp_path: Path,
    registry: str,
    request: pytest.FixtureRequest,
) -> None:
    """Pushed to distribution and to imageforge's registry, the index reads back with
    skopeo, ``skopeo copy --all`` takes it whole, and podman and ``imageforge pull``
    with ``--platform`` get the image of that platform, which runs under qemu."""
    if registry == "distribution":
        server: Distribution | Server = request.getfixturevalue("distribution")
        login = ["login", server.host, "-u", DIST_USER, "-p", DIST_PASSWORD, NO_TLS]
        repo = f"{server.host}/team"
    else:
        server = request.getfixturevalue("ours")
        login = ["login", server.host, "-u", "admin", "-p", ADMIN_PASSWORD, NO_TLS]
        repo = f"{server.host}/library"
    # after the registry starts: distribution reads REGISTRY_* variables as its settings
    auth_file: Path = request.getfixturevalue("authfile")
    pod: Podman = request.getfixturevalue("podman")
    ok(run_cli(login))
    ctx = _context(tmp_path, ARGS)
    built = ok(_build(bases, ctx, "--platform", BOTH, "-t", "args:multi", "--format", "json"))
    out = json.loads(built.stdout)
    children = {p["platform"]: p["digest"] for p in out["platforms"]}
    pushed = ok(run_cli(["--root", str(bases), "push", "args:multi", f"{repo}/multi:1", NO_TLS]))
    assert pushed.stdout.strip() == out["digest"]

    skopeo = need_binary("skopeo")
    auth = ["--authfile", str(auth_file), NO_TLS]
    raw = subprocess.run(
        [skopeo, "inspect", "--raw", *auth, f"docker://{repo}/multi:1"],
        capture_output=True,
        text=True,
    )
    assert raw.returncode == 0, raw.stderr
    listed = {
        m["platform"]["architecture"]: m["digest"] for m in json.loads(raw.stdout)["manifests"]
    }
    assert listed == {"amd64": children["linux/amd64"], "arm64": children["linux/arm64"]}
    copied = subprocess.run(
        [
            skopeo,
            "copy",
            "--all",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            "--authfile",
            str(auth_file),
            f"docker://{repo}/multi:1",
            f"docker://{repo}/copied:1",
        ],
        capture_output=True,
        text=True,
    )
    assert copied.returncode == 0, copied.stderr

    fresh = tmp_path / "fresh"
    pulled = ok(
        run_cli(
            [
                "--root",
                str(fresh),
                "pull",
                "--platform",
                "linux/arm64",
                f"{repo}/copied:1",
                NO_TLS,
                "--format",
                "json",
            ]
        )
    )
    assert children["linux/arm64"] in pulled.stdout

    pod(
        "pull",
        "--platform",
        "linux/arm64",
        "--tls-verify=false",
        "--authfile",
        str(auth_file),
        f"{repo}/multi:1",
    )
    inspected = json.loads(pod("image", "inspect", f"{repo}/multi:1"))[0]
    assert inspected["Architecture"] == "arm64"
    machine = pod("run", "--rm", "--network", "none", f"{repo}/multi:1", "cat", "/machine")
    assert machine.strip() == "aarch64"


def test_inspect_lists_an_index_platforms_and_run_takes_one(bases: Path, tmp_path: Path) -> None:
    ctx = _context(tmp_path, ARGS)
    ok(_build(bases, ctx, "--platform", BOTH, "-t", "args:multi"))
    root = ["--root", str(bases)]
    doc = json.loads(
        ok(
            run_cli(
                [*root, "inspect", "args:multi", "--platform", "linux/arm64", "--format", "json"]
            )
        ).stdout
    )
    assert [p["platform"] for p in doc["platforms"]] == ["linux/amd64", "linux/arm64"]
    assert doc["platformImage"] == doc["platforms"][1]["digest"]
    assert doc["config"]["architecture"] == "arm64"
    text = ok(run_cli([*root, "inspect", "args:multi"])).stdout
    assert "linux/amd64" in text and "linux/arm64" in text
    # run --platform: the arm64 image, through qemu; without it this machine's
    ran = ok(
        run_cli(
            [
                *root,
                "run",
                "--network",
                "none",
                "--platform",
                "linux/arm64",
                "args:multi",
                "uname",
                "-m",
            ]
        )
    )
    assert ran.stdout.strip() == "aarch64"
    ran = ok(run_cli([*root, "run", "--network", "none", "args:multi", "cat", "/machine"]))
    assert (
        ran.stdout.strip() == {"amd64": "x86_64", "arm64": "aarch64"}[host_platform().architecture]
    )
    missing = run_cli([*root, "run", "--platform", "linux/s390x", "args:multi", "true"])
    assert missing.returncode != 0
    assert (
        "no image for linux/s390x in its index (it has linux/amd64, linux/arm64)" in missing.stderr
    )


def test_manifest_lists_join_images_built_separately_and_push_whole(
    bases: Path, request: pytest.FixtureRequest
) -> None:
    """``manifest create|add|remove|inspect|push``, as podman's: two single-platform
    images joined into one list, pushed with both, pulled per platform."""
    server: Server = request.getfixturevalue("ours")
    auth_file: Path = request.getfixturevalue("authfile")
    ok(run_cli(["login", server.host, "-u", "admin", "-p", ADMIN_PASSWORD, NO_TLS]))
    root = ["--root", str(bases)]
    ok(run_cli([*root, "manifest", "create", "joined:1", "busybox-amd64"]))
    ok(run_cli([*root, "manifest", "add", "joined:1", "busybox-arm64"]))
    listed = json.loads(ok(run_cli([*root, "manifest", "inspect", "joined:1"])).stdout)
    plats = [
        (m["platform"]["architecture"], m["platform"].get("variant")) for m in listed["manifests"]
    ]
    assert plats == [("amd64", None), ("arm64", "v8")]
    # named again with another platform, in its place; then taken out
    again = json.loads(
        ok(
            run_cli(
                [
                    *root,
                    "manifest",
                    "add",
                    "joined:1",
                    "busybox-arm64",
                    "--arch",
                    "arm64",
                    "--format",
                    "json",
                ]
            )
        ).stdout
    )
    assert len(again["manifests"]) == 2
    arm = again["manifests"][1]["digest"]
    dropped = json.loads(
        ok(run_cli([*root, "manifest", "remove", "joined:1", arm, "--format", "json"])).stdout
    )
    assert [m["digest"] for m in dropped["manifests"]] == [listed["manifests"][0]["digest"]]
    ok(run_cli([*root, "manifest", "add", "joined:1", "busybox-arm64"]))
    # bad input: an existing name, an image that is no list, an image not listed
    exists = run_cli([*root, "manifest", "create", "joined:1"])
    assert exists.returncode != 0 and "already exists" in exists.stderr
    not_list = run_cli([*root, "manifest", "add", "busybox-amd64", "busybox-arm64"])
    assert not_list.returncode != 0 and "is an image, not a manifest list" in not_list.stderr
    absent = run_cli([*root, "manifest", "remove", "joined:1", "sha256:" + "0" * 64])
    assert absent.returncode != 0 and "lists no image" in absent.stderr

    dest = f"{server.host}/library/joined:1"
    pushed = ok(run_cli([*root, "manifest", "push", "joined:1", dest, NO_TLS])).stdout.strip()
    skopeo = need_binary("skopeo")
    raw = subprocess.run(
        [skopeo, "inspect", "--raw", "--authfile", str(auth_file), NO_TLS, f"docker://{dest}"],
        capture_output=True,
        text=True,
    )
    assert raw.returncode == 0, raw.stderr
    assert "sha256:" + hashlib.sha256(raw.stdout.encode()).hexdigest() == pushed
    fresh = ["--root", str(bases.parent / "fresh-joined")]
    ok(run_cli([*fresh, "pull", "--platform", "linux/arm64", dest, NO_TLS]))
    ran = ok(run_cli([*fresh, "run", "--network", "none", dest, "uname", "-m"]))
    assert ran.stdout.strip() == "aarch64"
