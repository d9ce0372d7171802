"""Server time of the registry UI's main pages with REPOS repositories of TAGS tags each
(1,000 and 10 by default: 10,000 tags), made directly in the metadata database (each
tag on its own manifest, all naming one small stored image, so the pages read real
manifests and configs).

Requests go to the ASGI app in this process (Starlette's TestClient: no network, no
TLS), logged in as the system admin through the login form, so what is timed is the
server's work: authorization, the metadata reads, the storage reads and rendering.
Each page is asked REPEAT times; the median and the slowest are printed, against the
issue's goal of 200 ms.

    .venv/bin/python benchmarks/registry_ui.py [--repos 1000] [--tags 10] [--repeat 20]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import statistics
import tempfile
import time
from pathlib import Path

from starlette.testclient import TestClient

from imageforge.oci import Digest
from imageforge.registry import RegistryConfig, create_app, open_registry
from imageforge.registry.meta import ManifestRow
from imageforge.registry.service import RegistryState

PASSWORD = "bench-admin-pw"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
GOAL = 0.200


def _blob(state: RegistryState, data: bytes) -> tuple[Digest, int]:
    digest = Digest("sha256:" + hashlib.sha256(data).hexdigest())
    state.storage.write_blob(data, digest)
    return digest, len(data)


def populate(state: RegistryState, repos: int, tags: int) -> list[tuple[str, Digest]]:
    """``repos`` repositories of project ``bench``, each with ``tags`` tagged manifests;
    (repository, a digest in it) for the pages to ask about."""
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Labels": {"org.example.bench": "1"}},
        "history": [{"created_by": "COPY rootfs / # buildkit"}, {"created_by": "RUN make"}],
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "0" * 64] * 2},
    }
    cfg, cfg_size = _blob(state, json.dumps(config).encode())
    layer, layer_size = _blob(state, os.urandom(4096))
    manifests = []
    for n in range(tags):
        doc = {
            "schemaVersion": 2,
            "mediaType": MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": str(cfg),
                "size": cfg_size,
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": str(layer),
                    "size": layer_size,
                }
            ]
            * 2,
            "annotations": {"n": str(n)},
        }
        manifests.append(_blob(state, json.dumps(doc).encode()))
    state.meta.add_project("bench", False)
    asked = []
    for r in range(repos):
        repo = f"bench/app-{r:04d}"
        state.meta.link_blob(repo, cfg, cfg_size)
        state.meta.link_blob(repo, layer, layer_size)
        for n, (digest, size) in enumerate(manifests):
            row = ManifestRow(repo, digest, MANIFEST, size, None, None)
            state.meta.put_manifest(row, [], [cfg, layer], f"v{n}")
        asked.append((repo, manifests[0][0]))
    return asked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repos", type=int, default=1000)
    parser.add_argument("--tags", type=int, default=10, help="per repository")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    os.environ["IMAGEFORGE_ADMIN_PASSWORD"] = PASSWORD
    with tempfile.TemporaryDirectory(prefix="ui-bench-") as tmp:
        state = open_registry(RegistryConfig(Path(tmp) / "data"), announce=lambda _m: None)
        started = time.perf_counter()
        asked = populate(state, args.repos, args.tags)
        made = time.perf_counter() - started
        print(f"made {args.repos} repositories, {args.repos * args.tags} tags in {made:.1f} s")
        repo, digest = asked[len(asked) // 2]
        pages = [
            ("projects", "/ui/projects"),
            ("project (all repositories)", "/ui/projects/bench"),
            ("search", "/ui/search?q=app-05"),
            ("repository", f"/ui/repository?name={repo}"),
            ("artifact", f"/ui/artifact?repo={repo}&digest={digest}"),
            ("artifact SBOM tab", f"/ui/artifact?repo={repo}&digest={digest}&tab=sbom"),
            ("audit log", "/ui/audit"),
        ]
        with TestClient(create_app(state)) as client:
            form = client.get("/ui/login").text
            found = re.search(r'name="csrf" value="([^"]+)"', form)
            assert found
            login = {"username": "admin", "password": PASSWORD, "csrf": found.group(1)}
            assert client.post("/ui/login", data=login, follow_redirects=False).status_code == 303
            print(f"{'page':<28} {'median ms':>10} {'max ms':>8}  goal {GOAL * 1000:.0f} ms")
            for name, url in pages:
                times = []
                for _ in range(args.repeat):
                    t = time.perf_counter()
                    r = client.get(url)
                    times.append(time.perf_counter() - t)
                    assert r.status_code == 200, (url, r.status_code, r.text[:500])
                median = statistics.median(times)
                flag = "" if median <= GOAL else "  OVER"
                print(f"{name:<28} {median * 1000:>10.1f} {max(times) * 1000:>8.1f}{flag}")
        state.meta.close()


if __name__ == "__main__":
    main()
