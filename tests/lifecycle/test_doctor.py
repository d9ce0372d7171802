"""``doctor`` measured on a corpus of real failing builds (tests/lifecycle/data/doctor:
each Dockerfile fails for real on the busybox base -- a missing and a .dockerignore'd COPY
source, a refused connection, an unresolvable name, a non-zero RUN, a command not in the
image, permission denied after USER, a binary of another platform, a full size-limited
tmpfs -- or on the bootstrapped Debian base: apt's held broken packages from a local
file: repository whose .debs' Depends cannot be met together), and on the real output of
Maven's (the enforcer's dependencyConvergence, offline from Debian's maven-repo), pip's
and npm's dependency conflicts; each cause must be named, with its fix, in one table;
``stats builds`` then sums the history those builds recorded."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.bootstrap.conftest import DebianSlim
from tests.builder.conftest import base_layout as base_layout
from tests.conftest import need_binary, run_cli
from tests.remote.conftest import ok

DATA = Path(__file__).parent / "data" / "doctor"

# the corpus: directory -> (the cause doctor must name, a word its fix must hold)
BUILDS = {
    "copy-missing": ("copy-missing", "relative to the context"),
    "copy-excluded": ("copy-excluded", ".dockerignore"),
    "network": ("network", "reachable"),
    "network-dns": ("network-dns", "--network"),
    "step-failed": ("step-failed", "imageforge run"),
    "command-not-found": ("command-not-found", "install"),
    "permission-after-user": ("permission-after-user", "before USER app"),
    "exec-format": ("exec-format", "--platform"),
    "disk-full": ("disk-full", "size="),
    "apt-conflict": ("apt-conflict", "apt-get install libwidget-dev libwidget1=1.0"),
}


def _apt_repository(context: Path) -> None:
    """A flat file: apt repository in ``context/repo``: a .deb (dpkg-deb) of each control
    file in ``packages/``, indexed by dpkg-scanpackages."""
    repo = context / "repo"
    repo.mkdir()
    for control in sorted((context / "packages").iterdir()):
        tree = context / "deb" / control.name
        (tree / "DEBIAN").mkdir(parents=True)
        shutil.copy(control, tree / "DEBIAN" / "control")
        deb = repo / f"{control.name}_all.deb"
        subprocess.run([need_binary("dpkg-deb"), "--root-owner-group", "--build", str(tree),
                        str(deb)], capture_output=True, check=True)  # fmt: skip
    shutil.rmtree(context / "deb")
    index = subprocess.run([need_binary("dpkg-scanpackages"), "--multiversion", "."], cwd=repo,
                           capture_output=True, text=True, check=True)  # fmt: skip
    (repo / "Packages").write_text(index.stdout)


def _maven_log(work: Path) -> Path:
    """The enforcer's own dependency convergence error, offline: one mvn run of the
    project in data/doctor/maven against Debian's /usr/share/maven-repo."""
    mvn = need_binary("mvn")
    repo = Path("/usr/share/maven-repo")
    for path, package in (
        ("org/apache/maven/plugins/maven-enforcer-plugin", "libmaven-enforcer-plugin-java"),
        ("org/codehaus/plexus/plexus-sec-dispatcher/2.0", "libplexus-sec-dispatcher-java"),
        ("org/sonatype/plexus/plexus-build-api/0.0.7", "libplexus-build-api-java"),
    ):  # offline Maven leaves out a dependency it cannot find: no conflict, no failure
        if not (repo / path).is_dir():
            pytest.fail(f"Debian's {package} is not installed (make setup installs it)")
    shutil.copytree(DATA / "maven", work)
    r = subprocess.run(
        # file: is the only protocol offline Maven may read; the local repository is
        # this test's own (Debian's stays untouched)
        [mvn, "-o", "-B", "-s", str(work / "settings.xml"), "-Daether.offline.protocols=file",
         f"-Dmaven.repo.local={work / 'm2'}", "validate"],
        cwd=work, capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    assert r.returncode != 0 and "Dependency convergence error" in r.stdout, r.stdout[-3000:]
    (work / "build.log").write_text(r.stdout + r.stderr)
    return work / "build.log"


def _wheel(directory: Path, name: str, version: str, requires: tuple[str, ...] = ()) -> None:
    info = f"{name}-{version}.dist-info"
    with zipfile.ZipFile(directory / f"{name}-{version}-py3-none-any.whl", "w") as whl:
        meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        whl.writestr(f"{info}/METADATA", meta + "".join(f"Requires-Dist: {r}\n" for r in requires))
        whl.writestr(
            f"{info}/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        )
        whl.writestr(f"{info}/RECORD", "")


def _pip_log(work: Path) -> Path:
    """pip's own ResolutionImpossible, offline: local wheels whose pins conflict."""
    shutil.copytree(DATA / "pip", work)
    _wheel(work, "botocore", "1.34.0", ("urllib3<1.27,>=1.25.4",))
    _wheel(work, "urllib3", "1.26.18")
    _wheel(work, "urllib3", "3.0.0")
    r = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--no-index", "--find-links",
         str(work), "-r", str(work / "requirements.txt")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert r.returncode != 0, r.stdout
    (work / "build.log").write_text(r.stdout + r.stderr)
    return work / "build.log"


def _npm_log(work: Path) -> Path:
    """npm's own ERESOLVE, offline: react-widget wants react ^2, the app has react 1."""
    npm = need_binary("npm")
    env = {**os.environ, "HOME": str(work / "home"), "npm_config_update_notifier": "false"}
    for name, version, peers in (
        ("react", "1.0.0", {}),
        ("react-widget", "2.0.0", {"react": "^2.0.0"}),
    ):
        src = work / name
        src.mkdir(parents=True)
        doc = {"name": name, "version": version, "peerDependencies": peers}
        (src / "package.json").write_text(json.dumps(doc))
        subprocess.run([npm, "pack", "--pack-destination", str(work)], cwd=src, env=env,
                       capture_output=True, check=True)  # fmt: skip
    deps = {"react": "file:react-1.0.0.tgz", "react-widget": "file:react-widget-2.0.0.tgz"}
    (work / "package.json").write_text(
        json.dumps({"name": "app", "version": "1.0.0", "dependencies": deps})
    )
    r = subprocess.run([npm, "install", "--offline", "--no-audit", "--no-fund"], cwd=work, env=env,
                       capture_output=True, text=True, check=False)  # fmt: skip
    assert r.returncode != 0, r.stdout
    (work / "build.log").write_text(r.stdout + r.stderr)
    return work / "build.log"


@pytest.mark.slow
def test_doctor_names_the_cause_of_each_real_failure(
    tmp_path: Path, base_layout: Path, debian_slim: DebianSlim
) -> None:
    root = tmp_path / "store"
    cli = ["--root", str(root)]
    ok(run_cli([*cli, "import", f"oci:{base_layout}:busybox", "-t", "busybox"]))
    ok(run_cli([*cli, "import", f"oci:{debian_slim.layout}", "-t", "debian:bookworm"]))
    assert "no builds recorded" in ok(run_cli([*cli, "stats", "builds"])).stdout
    rows: list[tuple[str, str, str]] = []
    expected: dict[str, str] = {}
    for case, (cause, word) in BUILDS.items():
        expected[case] = cause
        context = tmp_path / case
        shutil.copytree(DATA / case, context)
        if case == "exec-format":  # a Windows program: no ELF, no #!, so execve refuses it
            (context / "tool").write_bytes(b"MZ\x90\x00\x03" + bytes(range(256)) * 4)
            (context / "tool").chmod(0o755)
        offline: list[str] = []
        if case == "apt-conflict":  # apt reads only the file: repository, no network
            _apt_repository(context)
            offline = ["--network", "none"]
        r = run_cli([*cli, "build", str(context), "-t", f"corpus:{case}", "--progress", "plain",
                     *offline])  # fmt: skip
        assert r.returncode != 0, f"{case} built: {r.stderr}"
        got = json.loads(ok(run_cli([*cli, "doctor", "--last", "--format", "json"])).stdout)
        rows.append((case, got["diagnosis"]["cause"], got["diagnosis"]["fix"]))
        assert word in got["diagnosis"]["fix"], (case, got)
    pip_fix = "replace urllib3==3.0.0 with urllib3<1.27,>=1.25.4"
    maven_pin = (
        "<dependencyManagement><dependencies>: <dependency><groupId>org.codehaus.plexus"
        "</groupId><artifactId>plexus-utils</artifactId><version>2.x</version>"
    )
    for case, log, cause, word in (
        ("maven", _maven_log(tmp_path / "maven"), "maven-conflict", maven_pin),
        ("pip", _pip_log(tmp_path / "pip"), "pip-conflict", pip_fix),
        ("npm", _npm_log(tmp_path / "npm"), "npm-peer-conflict", '"react": "^2.0.0"'),
    ):
        expected[case] = cause
        got = json.loads(ok(run_cli([*cli, "doctor", str(log), "--format", "json"])).stdout)
        rows.append((case, got["diagnosis"]["cause"], got["diagnosis"]["fix"]))
        assert word in got["diagnosis"]["fix"], (case, got)
    expected = {
        **{c: v[0] for c, v in BUILDS.items()},
        "maven": "maven-conflict",
        "pip": "pip-conflict",
        "npm": "npm-peer-conflict",
    }
    table_rows = [("case", "cause named", "fix"), *rows]  # the corpus table (pytest -s)
    print("\n".join(f"{case:<24} {found:<24} {fix}" for case, found, fix in table_rows))
    assert {case: found for case, found, _ in rows} == expected

    # a build that succeeds, twice (the second from the cache): the history sums it all
    for _ in range(2):
        ok(run_cli([*cli, "build", str(DATA / "ok"), "-t", "corpus:ok"]))
    stats = json.loads(ok(run_cli([*cli, "stats", "builds", "--format", "json"])).stdout)
    assert stats["builds"] == len(BUILDS) + 2 and stats["failed"] == len(BUILDS)
    assert stats["causes"] == dict.fromkeys((v[0] for v in BUILDS.values()), 1)
    assert stats["steps"] == 2 and stats["cachedSteps"] == 1 and stats["cacheHitRatio"] == 0.5
    assert [d["builds"] for d in stats["days"]] == [len(BUILDS) + 2]
    table = ok(run_cli([*cli, "stats", "builds"])).stdout
    assert f"failure rate: {len(BUILDS) / (len(BUILDS) + 2):.1%}" in table

    # the pin doctor named for apt (BUILDS' word), added to the failed RUN, builds
    dockerfile = tmp_path / "apt-conflict" / "Dockerfile"
    broken = dockerfile.read_text()
    dockerfile.write_text(broken.replace(" libwidget-dev\n", " libwidget-dev libwidget1=1.0\n"))
    assert dockerfile.read_text() != broken
    ok(run_cli([*cli, "build", str(dockerfile.parent), "-t", "corpus:apt", "--network", "none"]))
