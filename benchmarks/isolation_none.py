"""``build --isolation none`` (issue #31) against the normal builder (runc over overlay)
and ``buildah bud --isolation chroot``, in the same run, cold builds from an empty store
each round, on two cases over the same busybox base given as an OCI layout:

- ``busybox``: build_peers.py's 7-step Dockerfile with a 200-file COPY;
- ``runs``: the differential "run" case (eight RUN steps that delete, chmod, link).

Run by hand, as root, not in tests::

    .venv/bin/python benchmarks/isolation_none.py [ROUNDS]

Prints each tool's median seconds and the ratio to the normal builder.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(HERE), str(HERE / "benchmarks")]

from build_peers import BUSYBOX_DOCKERFILE, _case_contexts, _sh, _timed  # noqa: E402
from tests.builder.conftest import _busybox_rootfs  # noqa: E402
from tests.builder.test_buildah_diff import CASES, _make_context  # noqa: E402
from tests.conftest import containers_env  # noqa: E402

IMAGEFORGE = [sys.executable, "-m", "imageforge"]


def _base(work: Path) -> Path:
    rootfs = work / "rootfs"
    _busybox_rootfs(rootfs)
    store = str(work / "base-store")
    _sh([*IMAGEFORGE, "--root", store, "import", f"rootfs:{rootfs}", "-t", "busybox:base"])
    layout = work / "layout"
    _sh([*IMAGEFORGE, "--root", store, "export", "busybox:base", f"oci:{layout}:busybox"])
    return layout


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    work = Path(tempfile.mkdtemp(prefix="ifiso-", dir="/tmp"))
    layout = _base(work)
    base = f"oci:{layout}:busybox"
    ctx, template = _case_contexts(work)["busybox"]
    assert template == BUSYBOX_DOCKERFILE
    (ctx / "Dockerfile").write_text(BUSYBOX_DOCKERFILE.replace("{base}", base))
    cases = {"busybox": ctx, "runs": _make_context(work / "ctx-runs", "run", base)}
    assert "run" in CASES
    env = containers_env(work)
    results: dict[tuple[str, str], list[float]] = {}
    for case, context in cases.items():
        for r in range(rounds):
            store = work / f"store-{case}-{r}"
            tools = {
                "imageforge (oci)": [*IMAGEFORGE, "--root", f"{store}-a", "build", str(context)],
                "imageforge --isolation none": [
                    *IMAGEFORGE,
                    "--root",
                    f"{store}-b",
                    "build",
                    str(context),
                    "--isolation",
                    "none",
                ],
            }
            for name, cmd in tools.items():
                results.setdefault((case, name), []).append(
                    _timed([*cmd, "--network", "host", "-t", f"bench-{case}:{r}"])
                )
            buildah = [
                "buildah",
                "--root",
                f"{store}-c",
                "--runroot",
                f"{store}-c-run",
                "--storage-driver",
                "overlay",
            ]
            results.setdefault((case, "buildah --isolation chroot"), []).append(
                _timed(
                    [*buildah, "bud", "--isolation", "chroot", "--runtime", "runc"]
                    + ["--layers", "-t", f"bench-{case}", str(context)],
                    env,
                )
            )
            subprocess.run([*buildah, "rm", "--all"], env=env, capture_output=True, check=False)
            subprocess.run(["umount", "-R", f"{store}-c/overlay"], capture_output=True, check=False)
    for case in cases:
        normal = statistics.median(results[(case, "imageforge (oci)")])
        for (c, name), times in results.items():
            if c == case:
                median = statistics.median(times)
                print(f"{case:8} {name:30} {median:6.2f} s  x{median / normal:.2f}  {times}")
    subprocess.run(["rm", "-rf", str(work)], check=False)


if __name__ == "__main__":
    main()
