"""login, logout, push, pull, copy and ls-tags as a user runs them, against imageforge's
registry and Debian's docker-registry, checked with skopeo."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import need_binary, run_cli
from tests.registry.conftest import Server, skopeo
from tests.remote.conftest import (
    DIST_PASSWORD,
    DIST_USER,
    Distribution,
    login_ours,
    make_index_layout,
    ok,
    store_files,
)

NO_TLS = "--tls-verify=false"


def _digest_in(root: Path, name: str) -> str:
    images = json.loads(ok(run_cli(["--root", str(root), "images", "--format", "json"])).stdout)
    found = [i for i in images if f"{i['repository']}:{i['tag']}" == name]
    assert found, images
    return str(found[0]["digest"]) if "digest" in found[0] else str(found[0])


def _inspect(ref: str, authfile: Path) -> dict[str, object]:
    out = skopeo("inspect", NO_TLS, "--authfile", str(authfile), f"docker://{ref}").stdout
    doc: dict[str, object] = json.loads(out)
    return doc


@pytest.mark.slow
def test_login_push_ls_tags_pull_logout_with_our_registry(
    ours: Server, root: Path, authfile: Path, tmp_path: Path
) -> None:
    need_binary("skopeo")
    r = run_cli(
        ["login", ours.host, "-u", "admin", "--password-stdin", NO_TLS], stdin_text="wrong\n"
    )
    assert r.returncode == 7, r.stderr  # Unauthorized
    assert "refused the credentials of admin" in r.stderr and "hint:" in r.stderr
    assert not authfile.exists()  # nothing remembered on failure

    login_ours(ours)
    auths = json.loads(authfile.read_text())["auths"]
    assert list(auths) == [ours.host]
    assert authfile.stat().st_mode & 0o777 == 0o600

    dest = f"{ours.host}/library/hello"
    pushed = ok(
        run_cli(["--root", str(root), "push", "hello:1", f"docker://{dest}:1", NO_TLS])
    ).stdout.strip()
    ok(
        run_cli(
            ["--root", str(root), "push", "hello:1", f"{dest}:2", NO_TLS, "--progress", "quiet"]
        )
    )
    assert _inspect(f"{dest}:1", authfile)["Digest"] == pushed

    tags = json.loads(
        ok(run_cli(["ls-tags", f"docker://{dest}", NO_TLS, "--format", "json"])).stdout
    )
    assert tags == {"Repository": dest, "Tags": ["1", "2"]}

    fresh = tmp_path / "fresh"
    doc = json.loads(
        ok(run_cli(["--root", str(fresh), "pull", f"{dest}:1", NO_TLS, "--format", "json"])).stdout
    )
    assert doc["digest"] == pushed and doc["name"] == f"{dest}:1"
    ok(run_cli(["--root", str(fresh), "inspect", f"{dest}:1"]))
    # the pulled image is whole: it exports and skopeo reads it back
    ok(run_cli(["--root", str(fresh), "export", f"{dest}:1", f"oci:{tmp_path / 'back'}:1"]))
    skopeo("inspect", f"oci:{tmp_path / 'back'}:1")

    ok(run_cli(["logout", ours.host]))
    assert json.loads(authfile.read_text())["auths"] == {}
    r = run_cli(["logout", ours.host])
    assert r.returncode == 2 and "not logged in" in r.stderr

    # library is public: an anonymous pull works, an anonymous push is refused
    anon = tmp_path / "anon"
    ok(run_cli(["--root", str(anon), "pull", f"{dest}:2", NO_TLS]))
    r = run_cli(["--root", str(root), "push", "hello:1", f"{dest}:3", NO_TLS])
    assert r.returncode in (7, 8), r.stderr
    assert "hint: imageforge login" in r.stderr or "denied" in r.stderr.lower()


@pytest.mark.slow
def test_login_push_ls_tags_pull_with_distribution(
    distribution: Distribution, root: Path, authfile: Path, tmp_path: Path
) -> None:
    host = distribution.host
    r = run_cli(["login", host, "-u", DIST_USER, "-p", "nope", NO_TLS])
    assert r.returncode == 7, r.stderr
    assert "hint:" in r.stderr and not authfile.exists()
    ok(run_cli(["login", host, "-u", DIST_USER, "-p", DIST_PASSWORD, NO_TLS]))

    pushed = ok(
        run_cli(["--root", str(root), "push", "hello:1", f"{host}/team/hello:v1", NO_TLS])
    ).stdout.strip()
    assert _inspect(f"{host}/team/hello:v1", authfile)["Digest"] == pushed
    assert ok(run_cli(["ls-tags", f"{host}/team/hello", NO_TLS])).stdout.split() == ["v1"]

    fresh = tmp_path / "fresh"
    out = ok(run_cli(["--root", str(fresh), "pull", f"docker://{host}/team/hello:v1", NO_TLS]))
    assert out.stdout.strip() == pushed

    ok(run_cli(["logout", "--all"]))
    r = run_cli(["--root", str(tmp_path / "x"), "pull", f"{host}/team/hello:v1", NO_TLS])
    assert r.returncode == 7, r.stderr  # htpasswd: nothing without credentials


@pytest.mark.slow
def test_copy_between_our_registry_and_distribution(
    ours: Server, distribution: Distribution, root: Path, authfile: Path, tmp_path: Path
) -> None:
    login_ours(ours)
    ok(run_cli(["login", distribution.host, "-u", DIST_USER, "-p", DIST_PASSWORD, NO_TLS]))
    src = f"docker://{ours.host}/library/hello:1"
    digest = ok(run_cli(["--root", str(root), "copy", "hello:1", src, NO_TLS])).stdout.strip()

    dst = f"docker://{distribution.host}/mirror/hello:1"
    doc = json.loads(
        ok(run_cli(["--root", str(root), "copy", src, dst, NO_TLS, "--format", "json"])).stdout
    )
    assert doc["digest"] == digest
    assert _inspect(dst.removeprefix("docker://"), authfile)["Digest"] == digest

    # and back, to another repository; then registry -> every file transport
    back = f"docker://{ours.host}/library/back:1"
    never = tmp_path / "never"
    ok(run_cli(["--root", str(never), "copy", dst, back, NO_TLS]))
    assert not never.exists()  # registry to registry: no local store is touched
    assert _inspect(back.removeprefix("docker://"), authfile)["Digest"] == digest
    for dest in (
        f"oci:{tmp_path / 'layout'}:1",
        f"oci-archive:{tmp_path / 'img.tar'}:1",
        f"docker-archive:{tmp_path / 'd.tar'}:hello:1",
    ):
        ok(run_cli(["--root", str(root), "copy", back, dest, NO_TLS]))
        skopeo("inspect", dest)
    # and from a file transport straight to a registry
    ok(run_cli(["copy", f"oci-archive:{tmp_path / 'img.tar'}:1", f"{dst}-again", NO_TLS]))
    assert _inspect(f"{distribution.host}/mirror/hello:1-again", authfile)["Digest"] == digest


@pytest.mark.slow
def test_multi_platform_index_pull_gives_the_host_platform(
    ours: Server, root: Path, authfile: Path, tmp_path: Path
) -> None:
    login_ours(ours)
    ok(run_cli(["--root", str(root), "export", "hello:1", f"oci:{tmp_path / 'one'}:1"]))
    digests = make_index_layout(tmp_path / "one", tmp_path / "multi")
    ref = f"{ours.host}/library/multi:1"
    r = ok(run_cli(["copy", "--all", f"oci:{tmp_path / 'multi'}:multi", f"docker://{ref}", NO_TLS]))
    assert r.stdout.strip() == digests["index"]
    raw = skopeo("inspect", "--raw", NO_TLS, f"docker://{ref}").stdout
    assert len(json.loads(raw)["manifests"]) == 2  # the whole index went up

    fresh = tmp_path / "fresh"
    out = ok(run_cli(["--root", str(fresh), "pull", ref, NO_TLS])).stdout.strip()
    assert out == digests["linux/amd64"]
    out = ok(
        run_cli(["--root", str(fresh), "pull", ref, NO_TLS, "--platform", "linux/arm64"])
    ).stdout.strip()
    assert out == digests["linux/arm64/v8"]
    out = ok(run_cli(["--root", str(fresh), "pull", ref, NO_TLS, "--all"])).stdout.strip()
    assert out == digests["index"]
    r = run_cli(["--root", str(fresh), "pull", ref, NO_TLS, "--platform", "linux/s390x"])
    assert r.returncode == 3 and "no image for linux/s390x" in r.stderr


def test_pull_of_a_missing_tag_is_not_found_and_stores_nothing(
    ours: Server, root: Path, authfile: Path
) -> None:
    before = store_files(root)
    r = run_cli(["--root", str(root), "pull", f"{ours.host}/library/nothing:1", NO_TLS])
    assert r.returncode == 3, r.stderr
    assert "library/nothing" in r.stderr
    assert store_files(root) == before


def test_a_registry_that_is_not_running_is_unavailable(root: Path, authfile: Path) -> None:
    from tests.registry.conftest import _free_port

    r = run_cli(["--root", str(root), "pull", f"127.0.0.1:{_free_port()}/x/y:1", NO_TLS])
    assert r.returncode == 10, r.stderr
    assert "tried" in r.stderr and "hint:" in r.stderr
