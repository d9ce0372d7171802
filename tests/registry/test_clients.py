"""podman, buildah and a two-platform manifest list through skopeo, against our server."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from imageforge.oci import media
from tests.conftest import containers_env, need_binary
from tests.registry.conftest import ADMIN_PASSWORD, Server, skopeo

CREDS = f"admin:{ADMIN_PASSWORD}"


def _write_blob(layout: Path, data: bytes) -> dict[str, object]:
    hexd = hashlib.sha256(data).hexdigest()
    (layout / "blobs" / "sha256" / hexd).write_bytes(data)
    return {"digest": f"sha256:{hexd}", "size": len(data)}


def _blob(layout: Path, digest: str) -> bytes:
    return (layout / "blobs" / "sha256" / digest.split(":", 1)[1]).read_bytes()


def _two_platform_layout(src: Path, dest: Path) -> None:
    """Copy the single-image layout ``src`` and add an arm64 variant and an index of both
    under the tag ``multi``."""
    subprocess.run(["cp", "-a", str(src), str(dest)], check=True)
    top = json.loads((dest / "index.json").read_text())["manifests"][0]
    manifest = json.loads(_blob(dest, top["digest"]))
    config = json.loads(_blob(dest, manifest["config"]["digest"]))
    entries = []
    for arch in ("amd64", "arm64"):
        cfg = dict(config, architecture=arch, os="linux")
        cdesc = _write_blob(dest, json.dumps(cfg).encode())
        m = dict(manifest, config=dict(manifest["config"], **cdesc))
        mdesc = _write_blob(dest, json.dumps(m).encode())
        entries.append(
            {
                "mediaType": manifest.get("mediaType", media.OCI_MANIFEST),
                **mdesc,
                "platform": {"architecture": arch, "os": "linux"},
            }
        )
    index = {"schemaVersion": 2, "mediaType": media.OCI_INDEX, "manifests": entries}
    idesc = _write_blob(dest, json.dumps(index).encode())
    ref = {"mediaType": media.OCI_INDEX, **idesc}
    ref["annotations"] = {"org.opencontainers.image.ref.name": "multi"}
    (dest / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [ref]}))


@pytest.mark.slow
def test_manifest_list_pushed_with_all_pulls_back_per_platform(
    server: Server, hello_oci: Path, tmp_path: Path
) -> None:
    need_binary("skopeo")
    layout = tmp_path / "multi"
    _two_platform_layout(hello_oci, layout)
    dest = f"docker://{server.host}/library/multi:1"
    skopeo(
        "copy",
        "--all",
        "--dest-tls-verify=false",
        "--dest-creds",
        CREDS,
        f"oci:{layout}:multi",
        dest,
    )
    raw = json.loads(skopeo("inspect", "--raw", "--tls-verify=false", dest).stdout)
    assert raw["mediaType"] == media.OCI_INDEX
    assert [m["platform"]["architecture"] for m in raw["manifests"]] == ["amd64", "arm64"]
    for arch in ("amd64", "arm64"):
        out = tmp_path / f"out-{arch}"
        skopeo(
            "--override-arch",
            arch,
            "--override-os",
            "linux",
            "copy",
            "--src-tls-verify=false",
            dest,
            f"oci:{out}:x",
        )
        top = json.loads((out / "index.json").read_text())["manifests"][0]
        manifest = json.loads(_blob(out, top["digest"]))
        assert json.loads(_blob(out, manifest["config"]["digest"]))["architecture"] == arch


def _containers_env(tmp_path: Path) -> dict[str, str]:
    return containers_env(tmp_path)


def _storage_args(tmp_path: Path, runroot: Path) -> list[str]:
    return ["--root", str(tmp_path / "storage"), "--runroot", str(runroot)] + [
        "--storage-driver",
        "vfs",
    ]


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300, check=False)
    assert r.returncode == 0, f"{args}: {r.stderr}"
    return r


@pytest.mark.slow
def test_podman_push_and_pull(
    server: Server, hello_oci: Path, tmp_path: Path, runroot: Path
) -> None:
    podman = need_binary("podman")
    env = _containers_env(tmp_path)
    base = [podman, *_storage_args(tmp_path, runroot)]
    _run([*base, "pull", f"oci:{hello_oci}:1"], env)
    image = json.loads(_run([*base, "images", "--format", "json"], env).stdout)[0]["Id"]
    target = f"{server.host}/library/from-podman:1"
    _run([*base, "push", "--tls-verify=false", "--creds", CREDS, image, f"docker://{target}"], env)
    _run([*base, "rmi", "-a", "-f"], env)
    _run([*base, "pull", "--tls-verify=false", target], env)
    names = _run([*base, "images", "--format", "{{.Repository}}:{{.Tag}}"], env).stdout
    assert target in names


@pytest.mark.slow
def test_buildah_push(server: Server, hello_oci: Path, tmp_path: Path, runroot: Path) -> None:
    buildah = need_binary("buildah")
    env = _containers_env(tmp_path)
    base = [buildah, *_storage_args(tmp_path, runroot)]
    _run([*base, "pull", f"oci:{hello_oci}:1"], env)
    image = _run([*base, "images", "-q"], env).stdout.split()[0]
    target = f"{server.host}/library/from-buildah:1"
    _run([*base, "push", "--tls-verify=false", "--creds", CREDS, image, f"docker://{target}"], env)
    info = json.loads(skopeo("inspect", "--tls-verify=false", f"docker://{target}").stdout)
    assert info["RepoTags"] == ["1"]
