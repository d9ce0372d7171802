"""Fixtures of the scan tests: a vulnerability database of real advisory records, and an
image built by ``imageforge build`` whose every layer brings in packages at known
vulnerable (and boundary) versions, one ecosystem per Dockerfile instruction: a dpkg
database (written twice, as a base image and an ``apt-get install`` would), Python
dist-info, npm package.json, a jar's pom.properties, a Go binary's build info,
Cargo.lock and Gemfile.lock."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from imageforge.oci import Image
from imageforge.store import Store
from imageforge.transports import TransportRef, open_source, select_platform
from imageforge.vuln import VulnDB, import_source
from tests.conftest import need_binary, run_cli
from tests.vuln.conftest import DATA as VULN_DATA
from tests.vuln.conftest import tracker_sample

DATA = Path(__file__).parent / "data"
IMAGE = "scan-fixture:1"
STORE_NAME = "docker.io/library/scan-fixture:1"

OS_RELEASE = (
    'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\n'
    'VERSION_ID="12"\nVERSION_CODENAME=bookworm\nID=debian\n'
)


def _stanza(name: str, version: str, source: str | None = None) -> str:
    src = f"Source: {source}\n" if source else ""
    return (
        f"Package: {name}\nStatus: install ok installed\nArchitecture: amd64\n"
        f"{src}Version: {version}\nMaintainer: Debian <debian@example.org>\n"
    )


# The base image's packages (the first copy of var/lib/dpkg/status):
BASE_PACKAGES: list[tuple[str, str, str | None]] = [
    # CVE-2016-2781: [bookworm] <ignored> -> will_not_fix; CVE-2024-0684 <not-affected>
    ("coreutils", "9.1-1", None),
    # CVE-2011-3374: unimportant -> LOW; CVE-2020-27350 fixed in 2.1.13 -> below
    ("apt", "2.6.1", None),
    # CVE-2023-4641: [bookworm] <no-dsa> -> affected, no fix (an epoch in the version)
    ("passwd", "1:4.13+dfsg1-1", "shadow"),
]
# ... and what the "apt-get install" layer adds (the second copy):
INSTALLED_PACKAGES: list[tuple[str, str, str | None]] = [
    # CVE-2023-38545/38546: fixed in bookworm by DSA-5523-1 in 7.88.1-10+deb12u4
    ("libcurl4", "7.88.1-10+deb12u3", "curl"),
    # binNMU of gnutls28 3.7.9-2; CVE-2024-0553 fixed in 3.7.9-2+deb12u2
    ("libgnutls30", "3.7.9-2+b1", "gnutls28 (3.7.9-2)"),
    # epoch: 1:4.18.0 is below the fix 2:4.17.3+dfsg-1 of CVE-2022-42898 (sid line)
    ("samba-libs", "1:4.18.0+dfsg-1", "samba"),
    # exactly the fixed version of CVE-2022-40674 (sid line 2.4.8-2): not affected
    ("libexpat1", "2.4.8-2", "expat"),
    # installs requests' metadata: the PyPI package is reported once, under it
    ("python3-requests", "2.28.1+dfsg-1", "requests"),
]
DEBIAN_EGG = "usr/lib/python3/dist-packages/requests-2.28.1.egg-info"

GO_MAIN = """\
package main

import (
\t"fmt"

\t"github.com/pkg/errors"
\t"golang.org/x/text/language"
)

func main() {
\tfmt.Println(errors.New("x"), language.Tag())
}
"""
GO_MOD = """\
module example.com/scanme

go 1.19

require (
\tgithub.com/pkg/errors v0.9.1
\tgolang.org/x/text v0.3.7
)
"""
MODULES_TXT = """\
# github.com/pkg/errors v0.9.1
## explicit
github.com/pkg/errors
# golang.org/x/text v0.3.7
## explicit; go 1.17
golang.org/x/text/language
"""
# A stand-in for golang.org/x/text's code (its source is not on this machine); the
# build info records the module version as `go build -mod=vendor` takes it from
# vendor/modules.txt, which is what a scanner reads.
X_TEXT_STANDIN = 'package language\n\nfunc Tag() string { return "en" }\n'

CARGO_LOCK = """\
version = 3

[[package]]
name = "ansi_term"
version = "0.12.1"

[[package]]
name = "time"
version = "0.1.45"
"""
GEMFILE_LOCK = """\
GEM
  remote: https://rubygems.org/
  specs:
    rack (2.2.3)

PLATFORMS
  ruby

DEPENDENCIES
  rack

BUNDLED WITH
   2.3.7
"""

# (id, package name, version): every advisory the fixture database holds for the image,
# and nothing else
EXPECTED = {
    ("CVE-2016-2781", "coreutils", "9.1-1"),
    ("CVE-2011-3374", "apt", "2.6.1"),
    ("CVE-2023-4641", "passwd", "1:4.13+dfsg1-1"),
    ("CVE-2023-38545", "libcurl4", "7.88.1-10+deb12u3"),
    ("CVE-2023-38546", "libcurl4", "7.88.1-10+deb12u3"),
    ("CVE-2024-0553", "libgnutls30", "3.7.9-2+b1"),
    # fixed for bookworm by DSA-5867-1 (3.7.9-2+deb12u4)
    ("CVE-2024-12243", "libgnutls30", "3.7.9-2+b1"),
    ("CVE-2022-42898", "samba-libs", "1:4.18.0+dfsg-1"),
    ("CVE-2018-18074", "requests", "2.19.1"),
    ("CVE-2023-32681", "requests", "2.19.1"),
    ("CVE-2022-42969", "py", "1.11.0"),
    ("CVE-2019-10744", "lodash", "4.17.11"),
    ("CVE-2021-44228", "log4j-core", "2.14.1"),
    ("CVE-2022-32149", "golang.org/x/text", "v0.3.7"),
    # the Go standard library of the toolchain that built it (Debian's go1.19.8)
    ("CVE-2023-29403", "stdlib", "go1.19.8"),
    ("CVE-2020-26235", "time", "0.1.45"),
    ("CVE-2022-30123", "rack", "2.2.3"),
}


def _write(root: Path, rel: str, content: str | bytes, mode: int = 0o644) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        path.write_text(content)
    else:
        path.write_bytes(content)
    path.chmod(mode)


def _status(packages: list[tuple[str, str, str | None]]) -> str:
    return "\n".join(_stanza(*p) for p in packages)


def _dist_info(root: Path, name: str, version: str) -> None:
    _write(
        root,
        f"{name}-{version}.dist-info/METADATA",
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
    )


def _jar(group: str, artifact: str, version: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")
        z.writestr(
            f"META-INF/maven/{group}/{artifact}/pom.properties",
            f"groupId={group}\nartifactId={artifact}\nversion={version}\n",
        )
    return out.getvalue()


def _go_binary(work: Path) -> Path:
    go = need_binary("go")
    src = work / "gosrc"
    _write(src, "go.mod", GO_MOD)
    _write(src, "main.go", GO_MAIN)
    _write(src, "vendor/modules.txt", MODULES_TXT)
    _write(src, "vendor/golang.org/x/text/language/language.go", X_TEXT_STANDIN)
    errors = Path("/usr/share/gocode/src/github.com/pkg/errors")
    if not errors.is_dir():
        pytest.fail(f"{errors} is missing; 'make setup' installs it")
    shutil.copytree(errors, src / "vendor/github.com/pkg/errors")
    env = dict(
        os.environ,
        GOFLAGS="-mod=vendor",
        GOPROXY="off",
        GOCACHE=str(work / "gocache"),
        GOPATH=str(work / "gopath"),
    )
    out = work / "hello"
    subprocess.run([go, "build", "-o", str(out), "."], cwd=src, env=env, check=True)
    return out


def make_context(work: Path) -> Path:
    """The build context: one directory per layer and the Dockerfile."""
    ctx = work / "context"
    _write(ctx, "base/etc/os-release", OS_RELEASE)
    _write(ctx, "base/var/lib/dpkg/status", _status(BASE_PACKAGES))
    _write(ctx, "installed/var/lib/dpkg/status", _status(BASE_PACKAGES + INSTALLED_PACKAGES))
    _write(
        ctx,
        "installed/var/lib/dpkg/info/python3-requests.list",
        f"/.\n/{DEBIAN_EGG}\n/{DEBIAN_EGG}/PKG-INFO\n",
    )
    _write(
        ctx,
        f"installed/{DEBIAN_EGG}/PKG-INFO",
        "Metadata-Version: 2.1\nName: requests\nVersion: 2.28.1\n",
    )
    site = ctx / "site-packages"
    _dist_info(site, "requests", "2.19.1")  # CVE-2018-18074 and CVE-2023-32681
    _dist_info(site, "py", "1.11.0")  # last_affected: no fix
    _dist_info(site, "aiohttp", "0.1")  # PYSEC-2022-43059 was withdrawn
    _dist_info(site, "matrix_synapse", "1.41.1")  # exactly the fix of CVE-2021-39163
    node = ctx / "node_modules"
    for rel, name, version in (
        ("lodash", "lodash", "4.17.11"),  # CVE-2019-10744
        ("requests", "requests", "2.19.1"),  # npm's requests is not PyPI's
        ("app/node_modules/lodash", "lodash", "4.17.12"),  # exactly the fix
    ):
        _write(node, f"{rel}/package.json", json.dumps({"name": name, "version": version}))
    _write(
        ctx,
        "lib/log4j-core-2.14.1.jar",
        _jar("org.apache.logging.log4j", "log4j-core", "2.14.1"),
    )
    shutil.copy2(_go_binary(work), ctx / "hello")
    _write(ctx, "rust/Cargo.lock", CARGO_LOCK)
    _write(ctx, "ruby/Gemfile.lock", GEMFILE_LOCK)
    _write(
        ctx,
        "Dockerfile",
        "FROM scratch\n"
        "COPY base/ /\n"
        "COPY installed/ /\n"
        "COPY site-packages/ /usr/local/lib/python3.11/site-packages/\n"
        "COPY node_modules/ /app/node_modules/\n"
        "COPY lib/ /app/lib/\n"
        "COPY hello /usr/local/bin/hello\n"
        "COPY rust/ /src/rust/\n"
        "COPY ruby/ /src/ruby/\n",
    )
    return ctx


def ok(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert proc.returncode == 0, f"{proc.args}: exit {proc.returncode}\n{proc.stderr}"
    return proc


@pytest.fixture(scope="session")
def scan_db_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store root whose vulnerability database holds part 1's real records, the
    Debian tracker sample, Alpine's secdb fixture and this package's extra records."""
    root = tmp_path_factory.mktemp("scan-root")
    warnings: list[str] = []
    for source in (
        f"osv:{VULN_DATA / 'osv'}",
        f"osv:{DATA / 'osv'}",
        f"debian-tracker:{tracker_sample()}",
        f"alpine-secdb:{VULN_DATA / 'alpine'}",
    ):
        import_source(root, source, warnings.append)
    assert all("pkg.name" in w for w in warnings), warnings
    return root


@pytest.fixture
def scan_db(scan_db_root: Path) -> Iterator[VulnDB]:
    db = VulnDB.open(scan_db_root)
    yield db
    db.close()


@pytest.fixture(scope="session")
def fixture_image(scan_db_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``scan-fixture:1`` built into the store under ``scan_db_root``; the work dir."""
    work = tmp_path_factory.mktemp("scan-image")
    ctx = make_context(work)
    ok(run_cli(["--root", str(scan_db_root), "build", str(ctx), "-t", IMAGE]))
    return work


@contextmanager
def opened(root: Path, name: str = STORE_NAME) -> Iterator[Image]:
    """The image ``name`` of the store under ``root``, readable in the block."""
    with open_source(TransportRef("store", name), Store(root)) as obj:
        yield select_platform(obj)


@pytest.fixture(scope="session")
def fixture_rootfs(scan_db_root: Path, fixture_image: Path) -> Path:
    """The image's root filesystem, exported as an OCI layout and unpacked by umoci."""
    layout = fixture_image / "layout"
    ok(run_cli(["--root", str(scan_db_root), "export", IMAGE, f"oci:{layout}:app"]))
    bundle = fixture_image / "rootfs"
    umoci = need_binary("umoci")
    subprocess.run(
        [umoci, "raw", "unpack", "--image", f"{layout}:app", str(bundle)],
        check=True,
        capture_output=True,
    )
    return bundle
