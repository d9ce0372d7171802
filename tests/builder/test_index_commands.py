"""``analyze``, ``sbom`` and ``scan`` of a multi-platform index (in the store, in an
``oci:`` layout, in a registry): ``--platform`` picks the image; without it this
machine's, else the index's only one, else an error listing the platforms -- the one
rule ``inspect``, ``run`` and ``export`` follow too (``pipeline.image_for_platform``).

The indexes are built by imageforge from ``FROM scratch`` and a per-platform ``COPY``
(no RUN step, so no emulator is needed): each platform's root holds a dpkg database that
names a package of that architecture, and only the foreign one holds a token the secret
scanner finds."""

from __future__ import annotations

import hashlib
import json
import subprocess
import tarfile
from pathlib import Path

import pytest

from imageforge.oci import host_platform
from tests.builder.conftest import ok
from tests.conftest import need_binary, requires_root, run_cli
from tests.registry.conftest import ADMIN_PASSWORD, Server
from tests.remote.conftest import authfile, ours  # noqa: F401 - fixtures

pytestmark = [requires_root, pytest.mark.slow]

HOST = host_platform()
HOST_ARCH = HOST.architecture
OTHER_ARCH = "arm64" if HOST_ARCH != "arm64" else "amd64"
TWO = f"linux/{HOST_ARCH},linux/{OTHER_ARCH}"
NEITHER = "linux/s390x,linux/ppc64le"  # an index with nothing for this machine
TOKEN = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
NO_TLS = "--tls-verify=false"

DOCKERFILE = """\
FROM scratch
ARG TARGETARCH
COPY ${TARGETARCH}/ /
"""


def _status(arch: str) -> str:
    return (
        "Package: hello\n"
        "Status: install ok installed\n"
        "Priority: optional\n"
        "Section: misc\n"
        "Maintainer: Nobody <nobody@example.org>\n"
        f"Architecture: {arch}\n"
        f"Version: 1.0-{arch}\n"
        "Description: says hello\n"
    )


def _context(where: Path, archs: tuple[str, ...]) -> Path:
    ctx = where / "ctx"
    ctx.mkdir(parents=True)
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    for arch in archs:
        rootfs = ctx / arch
        (rootfs / "var/lib/dpkg").mkdir(parents=True)
        (rootfs / "var/lib/dpkg/status").write_text(_status(arch))
        (rootfs / "etc").mkdir()
        (rootfs / "etc/arch").write_text(arch * (100 if arch == HOST_ARCH else 1000))
        if arch != HOST_ARCH:
            (rootfs / "srv/app").mkdir(parents=True)
            (rootfs / "srv/app/deploy.env").write_text(f"GH_TOKEN={TOKEN}\n")
    return ctx


def _cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(["--root", str(root), *args], timeout=300)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with ``two:1`` (this machine's platform and another), ``neither:1``
    (s390x and ppc64le), ``solo:1`` (an index of the other platform's image only) and
    ``two`` in an OCI layout beside it."""
    where = tmp_path_factory.mktemp("readers")
    root = where / "store"
    ctx = _context(where, (HOST_ARCH, OTHER_ARCH, "s390x", "ppc64le"))
    ok(_cli(root, "build", str(ctx), "--platform", TWO, "-t", "two:1"))
    ok(_cli(root, "build", str(ctx), "--platform", NEITHER, "-t", "neither:1"))
    ok(_cli(root, "build", str(ctx), "--platform", f"linux/{OTHER_ARCH}", "-t", "other:1"))
    ok(_cli(root, "manifest", "create", "solo:1", "other:1"))
    ok(_cli(root, "export", "two:1", f"oci:{where / 'layout'}:two"))
    return root


def _children(root: Path, name: str) -> dict[str, str]:
    doc = json.loads(ok(_cli(root, "inspect", name, "--format", "json")).stdout)
    return {p["platform"]: p["digest"] for p in doc["platforms"]}


def _sbom(root: Path, target: str, *platform: str) -> dict[str, str]:
    doc = json.loads(ok(_cli(root, "sbom", target, "-o", "json", *platform)).stdout)
    return {p["name"]: p["version"] for p in doc["packages"]}


def _analyzed(root: Path, target: str, *platform: str) -> str:
    doc = json.loads(ok(_cli(root, "analyze", target, "--format", "json", *platform)).stdout)
    return str(doc["digest"])


def _scanned(root: Path, target: str, *platform: str) -> dict[str, object]:
    proc = _cli(root, "scan", target, "--scanners", "secret", "--format", "json", *platform)
    return dict(json.loads(ok(proc).stdout))


def _secrets(doc: dict[str, object]) -> list[str]:
    return [f["rule"] for f in doc["secrets"]]  # type: ignore[attr-defined]


@pytest.mark.parametrize("where", ["store", "oci"])
def test_platform_picks_the_image_of_an_index_for_analyze_sbom_and_scan(
    store: Path, where: str
) -> None:
    target = "two:1" if where == "store" else f"oci:{store.parent / 'layout'}:two"
    children = _children(store, "two:1")
    other = f"linux/{OTHER_ARCH}"
    # --platform: the other platform's image
    assert _sbom(store, target, "--platform", other) == {"hello": f"1.0-{OTHER_ARCH}"}
    assert _analyzed(store, target, "--platform", other) == children[other]
    scanned = _scanned(store, target, "--platform", other)
    assert scanned["target"]["architecture"] == OTHER_ARCH  # type: ignore[index]
    assert scanned["target"]["digest"] == children[other]  # type: ignore[index]
    assert _secrets(scanned) == ["github-pat"]
    # none: this machine's, which holds no token
    assert _sbom(store, target) == {"hello": f"1.0-{HOST_ARCH}"}
    assert _analyzed(store, target) == children[f"linux/{HOST_ARCH}"]
    scanned = _scanned(store, target)
    assert scanned["target"]["architecture"] == HOST_ARCH  # type: ignore[index]
    assert _secrets(scanned) == []


@pytest.mark.parametrize("command", ["sbom", "analyze", "scan", "inspect", "run", "export"])
def test_a_platform_the_index_lacks_is_an_error_listing_its_platforms(
    store: Path, tmp_path: Path, command: str
) -> None:
    args = {
        "sbom": ["sbom", "two:1"],
        "analyze": ["analyze", "two:1"],
        "scan": ["scan", "two:1", "--scanners", "secret"],
        "inspect": ["inspect", "two:1"],
        "run": ["run", "two:1", "true"],
        "export": ["export", "two:1", f"docker-archive:{tmp_path / 'out.tar'}"],
    }[command]
    proc = _cli(store, args[0], "--platform", "linux/riscv64", *args[1:])
    assert proc.returncode != 0
    has = ", ".join(sorted([f"linux/{HOST_ARCH}", f"linux/{OTHER_ARCH}"]))
    assert f"two:1: no image for linux/riscv64 in its index (it has {has})" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out.tar").exists()


@pytest.mark.parametrize("command", ["sbom", "analyze", "scan", "run", "export"])
def test_an_index_with_none_of_this_machine_needs_a_platform(
    store: Path, tmp_path: Path, command: str
) -> None:
    args = {
        "sbom": ["sbom", "neither:1"],
        "analyze": ["analyze", "neither:1"],
        "scan": ["scan", "neither:1", "--scanners", "secret"],
        "run": ["run", "neither:1", "true"],
        "export": ["export", "neither:1", f"docker-archive:{tmp_path / 'out.tar'}"],
    }[command]
    proc = _cli(store, *args)
    assert proc.returncode != 0
    if command == "run":  # an image to run is this machine's unless --platform says
        assert f"no image for {HOST} in its index (it has linux/ppc64le, linux/s390x)" in (
            proc.stderr
        )
    else:
        assert (
            f"neither:1: an index of several platforms (linux/ppc64le, linux/s390x) and none "
            f"is this machine's ({HOST})" in proc.stderr
        )
        assert "--platform linux/ppc64le" in proc.stderr  # the hint names one
    assert not (tmp_path / "out.tar").exists()
    # given one, each command reads it
    assert _sbom(store, "neither:1", "--platform", "linux/s390x") == {"hello": "1.0-s390x"}


def test_an_index_of_one_platform_needs_no_platform_to_be_read(store: Path) -> None:
    (only,) = _children(store, "solo:1").values()
    assert _sbom(store, "solo:1") == {"hello": f"1.0-{OTHER_ARCH}"}
    assert _analyzed(store, "solo:1") == only
    assert _secrets(_scanned(store, "solo:1")) == ["github-pat"]
    doc = json.loads(ok(_cli(store, "inspect", "solo:1", "--format", "json")).stdout)
    assert doc["platformImage"] == only


def test_inspect_of_an_index_without_this_machine_lists_it_and_says_how_to_choose(
    store: Path,
) -> None:
    doc = json.loads(ok(_cli(store, "inspect", "neither:1", "--format", "json")).stdout)
    assert [p["platform"] for p in doc["platforms"]] == ["linux/s390x", "linux/ppc64le"]
    assert doc["platformImage"] is None
    assert "choose one with --platform" in doc["note"]
    text = ok(_cli(store, "inspect", "neither:1")).stdout
    assert "linux/s390x" in text and "choose one with --platform" in text
    chosen = json.loads(
        ok(
            _cli(store, "inspect", "neither:1", "--platform", "linux/s390x", "--format", "json")
        ).stdout
    )
    assert chosen["config"]["architecture"] == "s390x"


def test_platform_picks_the_image_of_an_index_in_a_registry(
    store: Path,
    ours: Server,  # noqa: F811 - a fixture
    authfile: Path,  # noqa: F811 - a fixture
) -> None:
    ok(run_cli(["login", ours.host, "-u", "admin", "-p", ADMIN_PASSWORD, NO_TLS]))
    ref = f"{ours.host}/library/two:1"
    ok(_cli(store, "push", "two:1", ref, NO_TLS))
    remote = f"docker://{ref}"
    other = f"linux/{OTHER_ARCH}"
    assert _sbom(store, remote, "--platform", other, NO_TLS) == {"hello": f"1.0-{OTHER_ARCH}"}
    assert _sbom(store, remote, NO_TLS) == {"hello": f"1.0-{HOST_ARCH}"}
    children = _children(store, "two:1")
    assert _analyzed(store, remote, "--platform", other, NO_TLS) == children[other]
    scanned = _scanned(store, remote, "--platform", other, NO_TLS)
    assert scanned["target"]["digest"] == children[other]  # type: ignore[index]
    assert _secrets(scanned) == ["github-pat"]


def _skopeo(*args: str) -> str:
    proc = subprocess.run([need_binary("skopeo"), *args], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.parametrize("transport", ["oci", "oci-archive"])
def test_an_index_exports_whole_to_a_layout_or_archive_that_skopeo_copies_all(
    store: Path, tmp_path: Path, transport: str
) -> None:
    dest = tmp_path / ("layout" if transport == "oci" else "two.tar")
    out = json.loads(
        ok(_cli(store, "export", "two:1", f"{transport}:{dest}", "--format", "json")).stdout
    )
    index_digest = json.loads(ok(_cli(store, "inspect", "two:1", "--format", "json")).stdout)[
        "digest"
    ]
    assert out["digest"] == index_digest
    assert out["mediaType"] == "application/vnd.oci.image.index.v1+json"
    assert out["destination"] == f"{transport}:{dest}:1"  # the image's own tag
    raw = _skopeo("inspect", "--raw", f"{transport}:{dest}:1")
    assert "sha256:" + hashlib.sha256(raw.encode()).hexdigest() == index_digest
    children = _children(store, "two:1")
    assert {m["digest"] for m in json.loads(raw)["manifests"]} == set(children.values())
    # skopeo copy --all reads every image back; imageforge reads that copy again
    again = tmp_path / "again"
    _skopeo("copy", "--all", "--preserve-digests", f"{transport}:{dest}:1", f"oci:{again}:back")
    copied = _skopeo("inspect", "--raw", f"oci:{again}:back")
    assert "sha256:" + hashlib.sha256(copied.encode()).hexdigest() == index_digest
    for plat in children:
        arch = plat.split("/")[1]
        assert _sbom(store, f"oci:{again}:back", "--platform", plat) == {"hello": f"1.0-{arch}"}
        one = json.loads(_skopeo("inspect", "--override-arch", arch, f"oci:{again}:back"))
        assert one["Architecture"] == arch


def test_export_platform_writes_one_image_and_docker_archive_takes_one(
    store: Path, tmp_path: Path
) -> None:
    children = _children(store, "two:1")
    other = f"linux/{OTHER_ARCH}"
    # to docker-archive (no index there), as docker save: --platform, else this machine's
    for platform, arch in ((other, OTHER_ARCH), (None, HOST_ARCH)):
        tar = tmp_path / f"{arch}.tar"
        extra = ["--platform", platform] if platform else []
        out = json.loads(
            ok(
                _cli(store, "export", "two:1", f"docker-archive:{tar}", *extra, "--format", "json")
            ).stdout
        )
        assert out["digest"] == children[f"linux/{arch}"]
        assert out["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
        seen = json.loads(_skopeo("inspect", f"docker-archive:{tar}"))
        assert seen["Architecture"] == arch
        with tarfile.open(tar) as archive:
            member = archive.extractfile("manifest.json")
            assert member is not None
            (entry,) = json.load(member)  # one image, as docker save --platform writes
        assert entry["RepoTags"][0].endswith("two:1")
        assert _sbom(store, f"docker-archive:{tar}") == {"hello": f"1.0-{arch}"}
    # to a layout, --platform keeps only that image
    layout = tmp_path / "one"
    ok(_cli(store, "export", "two:1", f"oci:{layout}:one", "--platform", other))
    raw = json.loads(_skopeo("inspect", "--raw", f"oci:{layout}:one"))
    assert raw["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert json.loads(_skopeo("inspect", f"oci:{layout}:one"))["Architecture"] == OTHER_ARCH


@pytest.mark.parametrize("command", ["sbom", "scan"])
def test_platform_for_a_directory_is_refused_not_ignored(tmp_path: Path, command: str) -> None:
    extra = ["--scanners", "secret"] if command == "scan" else []
    proc = run_cli(
        ["--root", str(tmp_path / "s"), command, str(tmp_path), "--platform", "linux/s390x", *extra]
    )
    assert proc.returncode == 2, proc.stderr
    assert f"{tmp_path} is a directory, not an image: --platform linux/s390x" in proc.stderr
