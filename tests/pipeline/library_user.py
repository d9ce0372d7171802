"""What a library user writes: build, push, copy between registries, pull, run, copy
between transports and an SBOM, through ``imageforge.pipeline`` and ``imageforge.runtime``
alone. Run as a script in a
fresh interpreter by ``test_library_path.py`` (so nothing a test imported before counts);
prints one JSON document: what it did, and which ``imageforge.cli`` modules it loaded.

    python library_user.py WORK OURS_HOST DIST_HOST AUTHFILE

AUTHFILE holds the credentials of both registries.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from imageforge.bootstrap import busybox_image
from imageforge.builder import BuildOptions
from imageforge.pipeline import FromResolver, Session, build, copy, prune, pull, sbom
from imageforge.runtime import ContainerOptions, ImageCommand, StdIO, run_image
from imageforge.store import Store

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "hello-build"


def main(work: Path, ours: str, dist: str, authfile: Path) -> dict[str, object]:
    out: dict[str, object] = {}
    store = Store(work / "root")
    with Session(store, tls_verify=False, authfile=authfile) as s:
        # the base, then the busybox example on it, named and written to a layout
        s.write(busybox_image(store), "busybox:latest")
        built = build(
            s,
            BuildOptions(context=EXAMPLE, source_date_epoch=0),
            tags=["hello-build:1"],
            outputs=[f"oci:{work / 'layout'}:1"],
        )
        out["built"] = str(built.result.image.digest)
        out["names"] = list(built.names)
        # push, then registry to registry
        out["pushed"] = str(copy(s, "hello-build:1", f"docker://{ours}/library/hello-build:1"))
        out["mirrored"] = str(
            copy(s, f"docker://{ours}/library/hello-build:1", f"docker://{dist}/mirror/hello:1")
        )
        # an SBOM straight from a registry
        doc = sbom(s, f"docker://{ours}/library/hello-build:1")
        out["sbom_source"] = [doc.source.kind, doc.source.name, doc.source.digest]
    fresh = Store(work / "fresh")
    with Session(fresh, tls_verify=False, authfile=authfile) as s:
        pulled = pull(s, f"{dist}/mirror/hello:1")
        out["pulled"] = [pulled.name, str(pulled.image.digest)]
        # run it, found by name as FROM would find it (the store's copy, no registry)
        with tempfile.TemporaryFile() as output:
            status = run_image(
                fresh,
                FromResolver(s)(pulled.name, None),
                ImageCommand(args=["library"]),
                ContainerOptions(network="none", io=StdIO(stdout=output)),
            )
            output.seek(0)
            out["ran"] = [status.code, output.read().decode()]
        # between transports: store -> oci-archive -> docker-archive
        archive = work / "hello.oci.tar"
        out["archived"] = str(copy(s, pulled.name, f"oci-archive:{archive}:1"))
        out["docker_archive"] = str(
            copy(s, f"oci-archive:{archive}:1", f"docker-archive:{work / 'hello.tar'}:hello:1")
        )
        out["pruned_blobs"] = len(prune(fresh).blobs.removed)
    out["cli_modules"] = sorted(m for m in sys.modules if m.startswith("imageforge.cli"))
    return out


if __name__ == "__main__":
    work, ours, dist, authfile = sys.argv[1:5]
    print(json.dumps(main(Path(work), ours, dist, Path(authfile))))
