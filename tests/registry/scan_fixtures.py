"""What the scan-on-push tests share: a vulnerability database of real advisory records
(the vulnerability tests' OSV data) under a store root, and images whose one npm
package matches an advisory: lodash 4.17.11 has CVE-2019-10744 (CRITICAL, fixed in
4.17.12)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from imageforge.vuln import import_source
from tests.conftest import run_cli
from tests.vuln.conftest import DATA as VULN_DATA

CVE = "CVE-2019-10744"
HELLO = Path(__file__).resolve().parents[2] / "examples" / "hello-rootfs"


def vuln_root(root: Path) -> Path:
    """``root`` with a vulnerability database of the vulnerability tests' OSV records."""
    warnings: list[str] = []
    import_source(root, f"osv:{VULN_DATA / 'osv'}", warnings.append)
    return root


def lodash_layout(work: Path, root: Path, version: str, packages: int = 0) -> Path:
    """An OCI layout (tag ``1``) of the example rootfs with lodash ``version`` installed,
    and ``packages`` more npm packages that no advisory names (a scan that takes longer)."""
    rootfs = work / f"rootfs-{version}-{packages}"
    shutil.copytree(HELLO, rootfs, symlinks=True)
    modules = rootfs / "usr" / "lib" / "node_modules"
    for name, v in [("lodash", version), *((f"pkg-{n}", "1.0.0") for n in range(packages))]:
        (modules / name).mkdir(parents=True)
        (modules / name / "package.json").write_text(json.dumps({"name": name, "version": v}))
    tag = f"lodash-{version}-{packages}:1".replace(".", "-")
    r = run_cli(["--root", str(root), "import", f"rootfs:{rootfs}", "-t", tag])
    assert r.returncode == 0, r.stderr
    layout = work / f"oci-{version}-{packages}"
    r = run_cli(["--root", str(root), "export", tag, f"oci:{layout}:1"])
    assert r.returncode == 0, r.stderr
    return layout


def _put(layout: Path, doc: dict[str, object]) -> dict[str, object]:
    data = json.dumps(doc).encode()
    digest = hashlib.sha256(data).hexdigest()
    (layout / "blobs" / "sha256" / digest).write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def _get(layout: Path, digest: str) -> dict[str, object]:
    doc: dict[str, object] = json.loads((layout / "blobs" / "sha256" / digest[7:]).read_bytes())
    return doc


def variant(layout: Path, dest: Path, n: int) -> Path:
    """A copy of ``layout`` whose image differs by a label (another digest, same layers)."""
    shutil.copytree(layout, dest)
    index = json.loads((dest / "index.json").read_text())
    top = index["manifests"][0]
    manifest = _get(dest, top["digest"])
    config_desc = dict(manifest["config"])  # type: ignore[call-overload]
    config = _get(dest, str(config_desc["digest"]))
    settings = dict(config.get("config") or {})  # type: ignore[call-overload]
    settings["Labels"] = {"variant": str(n)}
    manifest["config"] = {**config_desc, **_put(dest, {**config, "config": settings})}
    index["manifests"][0] = {**top, **_put(dest, manifest)}
    (dest / "index.json").write_text(json.dumps(index))
    return dest
