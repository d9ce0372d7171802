"""Short commands start fast: each imports only what it uses (the scanners, the
runtime, the builder, signing and the HTTP client each cost a large share of a short
command's time; `prune` once pulled them all into every command, the registry's scan
policies into every registry command, the whole registry into `tune`
for its duration parser)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from imageforge.cli._exit import EXIT_CODES
from imageforge.errors import ErrorKind
from tests.conftest import run_cli

HEAVY = (
    "imageforge.scan",
    "imageforge.vuln",
    "imageforge.sbom",
    "imageforge.runtime",
    "imageforge.builder",
    "httpx",
)

# The CLI's own modules every command loads: the group, its options, exit codes and the
# summaries of the commands.
BASE = {
    "imageforge.cli._app",
    "imageforge.cli._exit",
    "imageforge.cli._options",
    "imageforge.cli._summaries",
}

PROBE = """
import atexit, runpy, sys
atexit.register(lambda: print("MODULES", " ".join(sorted(sys.modules)), file=sys.stderr))
sys.argv = ["imageforge", *sys.argv[1:]]
runpy.run_module("imageforge", run_name="__main__")
"""


def _imported(*args: str, exit_code: int = 0) -> set[str]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == exit_code, proc.stderr
    line = next(x for x in proc.stderr.splitlines() if x.startswith("MODULES "))
    return set(line.split()[1:])


@pytest.mark.parametrize("command", [["images"], ["images", "--format", "json"]])
def test_listing_the_store_imports_nothing_heavy(tmp_path: Path, command: list[str]) -> None:
    modules = _imported("--root", str(tmp_path / "store"), *command)
    assert "imageforge.cli" in modules  # the probe saw the command run
    assert [m for m in HEAVY if m in modules] == []


def test_help_lists_the_commands_without_importing_them(tmp_path: Path) -> None:
    modules = _imported("--root", str(tmp_path / "store"), "--help")
    assert "imageforge.cli._app" in modules
    commands = sorted(m for m in modules if m.startswith("imageforge.cli._") and m not in BASE)
    assert commands == []
    assert [
        m for m in (*HEAVY, "rich", "imageforge.pipeline", "imageforge.registry") if m in modules
    ] == []


@pytest.mark.parametrize(
    ("command", "unused"),
    [
        (["registry", "user", "--help"], ("imageforge.scan", "imageforge.sign", "httpx")),
        (["push", "--help"], ("imageforge.sign", "imageforge.builder", "cryptography")),
        (["build", "--help"], ("imageforge.sign", "imageforge.sbom", "httpx")),
        (["tune", "--help"], ("imageforge.registry", "imageforge.scan")),
    ],
)
def test_commands_import_only_what_they_use(
    tmp_path: Path, command: list[str], unused: tuple[str, ...]
) -> None:
    modules = _imported("--root", str(tmp_path / "store"), *command)
    assert [m for m in unused if m in modules] == []


# What an import of an unsigned image has no use for: rich (it prints one digest), the
# signing stack (nothing to carry), the registry client, the layer code of builds, runs
# and scanners (the differ, extraction, the filesystem view).
NOT_FOR_IMPORT = (
    "rich",
    "imageforge.layers._differ",
    "imageforge.layers._extract",
    "imageforge.layers._fsview",
    "imageforge.sign",
    "cryptography",
    "nacl",
    "jmespath",
    "imageforge.remote",
    "httpx",
    "imageforge.runtime",
    "imageforge.builder",
)


@pytest.fixture(scope="module")
def small_image(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """One small image as an ``oci:`` layout and a ``docker-archive:`` tar."""
    work = tmp_path_factory.mktemp("small")
    (work / "rootfs" / "etc").mkdir(parents=True)
    (work / "rootfs" / "etc" / "hello").write_text("hello\n")
    root = ["--root", str(work / "seed")]
    for args in (
        ["import", f"rootfs:{work / 'rootfs'}", "-t", "small:1"],
        ["export", "small:1", f"oci:{work / 'layout'}:1"],
        ["export", "small:1", f"docker-archive:{work / 'small.tar'}"],
    ):
        proc = run_cli([*root, *args])
        assert proc.returncode == 0, proc.stderr
    return {
        "oci": f"oci:{work / 'layout'}:1",
        "docker-archive": f"docker-archive:{work / 'small.tar'}",
    }


@pytest.mark.parametrize("transport", ["oci", "docker-archive"])
def test_importing_an_unsigned_image_loads_neither_rich_nor_signing(
    tmp_path: Path, small_image: dict[str, str], transport: str
) -> None:
    store = str(tmp_path / "store")
    modules = _imported("--root", store, "import", small_image[transport], "-t", "app:1")
    assert "imageforge.pipeline._copy" in modules  # the import ran
    assert [m for m in NOT_FOR_IMPORT if m in modules] == []
    listed = run_cli(["--root", store, "images", "--format", "json"])
    assert [(r["repository"], r["tag"]) for r in json.loads(listed.stdout)] == [("app", "1")]


def test_exporting_an_unsigned_image_to_a_layout_loads_no_signing(
    tmp_path: Path, small_image: dict[str, str]
) -> None:
    store = str(tmp_path / "store")
    assert run_cli(["--root", store, "import", small_image["oci"], "-t", "app:1"]).returncode == 0
    modules = _imported("--root", store, "export", "app:1", f"oci:{tmp_path / 'out'}:1")
    assert [m for m in NOT_FOR_IMPORT if m in modules] == []
    assert json.loads((tmp_path / "out" / "index.json").read_text())["manifests"]


def test_a_failing_command_prints_its_error_without_rich(tmp_path: Path) -> None:
    modules = _imported(
        "--root",
        str(tmp_path / "store"),
        "inspect",
        "missing:1",
        exit_code=EXIT_CODES[ErrorKind.NOT_FOUND],
    )
    assert "rich" not in modules


def test_parsing_a_dockerfile_loads_no_difflib(tmp_path: Path) -> None:
    # difflib only suggests a name for a mistake ("did you mean COPY?")
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM busybox\nRUN --network=none echo hi\n")
    modules = _imported("--root", str(tmp_path / "store"), "parse", str(dockerfile))
    assert "imageforge.dockerfile" in modules
    assert "difflib" not in modules


# What a build that attaches nothing has no use for: the signing stack, the SBOM's
# catalogers and rich (no bars with --progress quiet).
NOT_FOR_AN_UNSIGNED_BUILD = ("rich", "imageforge.sign", "cryptography", "nacl", "imageforge.sbom")


def test_an_unsigned_build_loads_neither_signing_nor_the_sbom(
    tmp_path: Path, small_image: dict[str, str]
) -> None:
    store = str(tmp_path / "store")
    assert run_cli(["--root", store, "import", small_image["oci"], "-t", "base:1"]).returncode == 0
    context = tmp_path / "context"
    context.mkdir()
    (context / "greeting").write_text("hi\n")
    (context / "Dockerfile").write_text("FROM base:1\nCOPY greeting /etc/greeting\n")
    modules = _imported(
        "--root", store, "build", str(context), "-t", "app:1", "--progress", "quiet"
    )
    assert "imageforge.builder" in modules  # the build ran
    assert [m for m in NOT_FOR_AN_UNSIGNED_BUILD if m in modules] == []
    listed = run_cli(["--root", store, "images", "--format", "json"])
    assert ("app", "1") in [(r["repository"], r["tag"]) for r in json.loads(listed.stdout)]
