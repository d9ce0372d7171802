"""Replication of REPOS repositories, imageforge's replication rule beside ``skopeo sync``,
in the same run from the same source: an imageforge registry (``registry serve``) holding
REPOS repositories of one tag each (one layer of SIZE MiB random bytes, different in
every repository), replicated to Debian's docker-registry (distribution 2.8, no auth),
a fresh data directory for every run so no blob is there already. Rows:

- imageforge: ``registry replication add`` (``--repository 'library/**'``) then
  ``registry replication run`` (in the CLI's process, as an operator runs it)
- skopeo: ``skopeo sync --src yaml`` over the same repositories

    .venv/bin/python benchmarks/registry_replication.py [--repos 20] [--size-mib 8] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
from registry_client import IF, Registry, free_port, run, timed  # this directory's

PASSWORD = "bench-admin-pw"


class Source:
    """``imageforge registry serve`` on a loopback port with user admin."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> Source:
        env = {**os.environ, "IMAGEFORGE_ADMIN_PASSWORD": PASSWORD}
        args = [*IF, "registry", "serve", "--addr", self.host, "--data-dir", str(self.base)]
        self.proc = subprocess.Popen(
            args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        for _ in range(1200):
            try:
                httpx.get(f"http://{self.host}/v2/", timeout=1)
                return self
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError("registry serve did not start")

    def __exit__(self, *exc: object) -> None:
        assert self.proc is not None
        self.proc.terminate()
        self.proc.wait()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repos", type=int, default=20)
    ap.add_argument("--size-mib", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-replication-"))
    # the pushes' credentials, in a file of this run's own
    env = {**os.environ, "REGISTRY_AUTH_FILE": str(work / "auth.json")}
    try:
        with Source(work / "source") as src:
            subprocess.run(
                [*IF, "login", src.host, "-u", "admin", "--password-stdin", "--tls-verify=false"],
                input=PASSWORD.encode(),
                env=env,
                check=True,
                capture_output=True,
            )
            store = work / "store"
            for r in range(a.repos):
                tree = work / f"tree{r}"
                tree.mkdir()
                with open(tree / "random.bin", "wb") as f:
                    for _ in range(a.size_mib):
                        f.write(os.urandom(1 << 20))
                run([*IF, "--root", str(store), "import", f"rootfs:{tree}", "-t", f"r{r:02}:1"])
                run(
                    [
                        *IF,
                        "--root",
                        str(store),
                        "copy",
                        f"r{r:02}:1",
                        f"docker://{src.host}/library/r{r:02}:1",
                        "--tls-verify=false",
                        "--progress",
                        "quiet",
                    ],
                    env=env,
                )
            total = a.repos * a.size_mib
            print(f"{a.repos} repositories, {total} MiB in all; best of {a.repeat}")
            sync = work / "sync.yaml"
            images = "".join(f"    library/r{r:02}: []\n" for r in range(a.repos))
            sync.write_text(
                f"{src.host}:\n  images:\n{images}  tls-verify: false\n"
                f"  credentials:\n    username: admin\n    password: {PASSWORD}\n"
            )
            best: dict[str, float] = {}
            for i in range(a.repeat):
                for tool in ("imageforge", "skopeo"):
                    with Registry(work / "dest") as dest:
                        if tool == "imageforge":
                            name = f"bench{i}"
                            run(
                                [
                                    *IF,
                                    "registry",
                                    "replication",
                                    "add",
                                    name,
                                    f"http://{dest.host}",
                                    "--repository",
                                    "library/**",
                                    "--data-dir",
                                    str(src.base),
                                ]
                            )
                            cmd = [
                                *IF,
                                "registry",
                                "replication",
                                "run",
                                name,
                                "--data-dir",
                                str(src.base),
                            ]
                        else:
                            cmd = [
                                "skopeo",
                                "sync",
                                "--src",
                                "yaml",
                                "--dest",
                                "docker",
                                "--dest-tls-verify=false",
                                str(sync),
                                dest.host,
                            ]
                        seconds = timed(lambda c=cmd: run(c))  # type: ignore[misc]
                        best[tool] = min(best.get(tool, seconds), seconds)
            for tool, seconds in best.items():
                print(f"{tool:>12}: {seconds:7.2f}s  {total / seconds:6.1f} MiB/s")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
