"""``imageforge analyze`` as a user runs it: numbers, JSON, trees, the CI gate, bad input."""

from __future__ import annotations

import json
import os
import pty
import subprocess
from pathlib import Path

import pytest

from imageforge.cli._exit import EXIT_CODES, EXIT_FINDINGS
from imageforge.errors import ErrorKind
from imageforge.oci import Reference
from imageforge.store import Store
from imageforge.transports import TransportRef, write_image
from tests.analyze.conftest import MB10, known_waste_image
from tests.conftest import imageforge_cmd, run_cli

DIVE_WASTED = MB10 + 600
OWN_WASTED = MB10 + 100 + 200 + 5000 + 7000
IMAGE_SIZE = 1100 + MB10 + 12000 + 200 + 300 + 900


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("analyze") / "store"
    name = str(Reference.parse("waste:1").with_default_tag())
    write_image(known_waste_image(), TransportRef("store", name), Store(root))
    return root


def _run(root: Path, *args: str, cwd: Path | None = None) -> tuple[int, str, str]:
    proc = run_cli(
        ["--root", str(root), "analyze", "waste:1", "--progress", "quiet", *args], cwd=cwd
    )
    return proc.returncode, proc.stdout, proc.stderr


def test_text_summary(root: Path) -> None:
    rc, out, err = _run(root)
    assert rc == 0, err
    assert "docker.io/library/waste:1" in out
    for line in ("RUN rm /tmp/big", "COPY conf.v3 /etc/conf", "/tmp/big", "/bin/sh"):
        assert line in out
    dive_row = next(line for line in out.splitlines() if line.startswith("dive "))
    assert dive_row.split()[1:] == [
        f"{(1000 + 100 + 5000 + 7000 + 900) / IMAGE_SIZE * 100:.2f}",
        "%",
        "10",
        "MB",
        f"{DIVE_WASTED / (IMAGE_SIZE - 1100) * 100:.2f}",
        "%",
    ]


def test_json_document(root: Path) -> None:
    rc, out, err = _run(root, "--format", "json")
    assert rc == 0, err
    doc = json.loads(out)
    assert doc["image"] == "docker.io/library/waste:1"
    assert doc["size"] == IMAGE_SIZE and doc["userSize"] == IMAGE_SIZE - 1100
    assert doc["dive"]["wastedBytes"] == DIVE_WASTED
    assert doc["waste"]["wastedBytes"] == OWN_WASTED
    assert doc["waste"]["reachableBytes"] == 2200
    assert [layer["layer"] for layer in doc["layers"]] == [1, 2, 3, 4, 5, 6]
    assert doc["layers"][2]["createdBy"] == "RUN rm /tmp/big"
    first = doc["waste"]["paths"][0]
    assert first == {
        "path": "tmp/big",
        "size": MB10,
        "createdIn": 2,
        "createdBy": "ADD big.tar /tmp/",
        "hiddenIn": 3,
        "hiddenBy": "RUN rm /tmp/big",
        "how": "removed",
    }
    assert doc["biggestFiles"][0] == {"path": "bin/sh", "size": 1000, "layer": 1}
    assert "ci" not in doc


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--lowest-efficiency", "0.5", "lowestEfficiency: image efficiency is too low"),
        ("--highest-wasted-bytes", "10MB", "highestWastedBytes: too many bytes wasted"),
        (
            "--highest-user-wasted-percent",
            "0.5",
            "highestUserWastedPercent: too many bytes wasted, relative to the user bytes",
        ),
    ],
)
def test_ci_each_threshold_fails_by_name(
    root: Path, tmp_path: Path, flag: str, value: str, message: str
) -> None:
    others = {
        "--lowest-efficiency": "disabled",
        "--highest-wasted-bytes": "disabled",
        "--highest-user-wasted-percent": "disabled",
    }
    others[flag] = value
    args = [a for kv in others.items() for a in kv]
    rc, out, err = _run(root, "--ci", *args, cwd=tmp_path)
    assert rc == EXIT_FINDINGS, err
    assert f"FAIL: {message}" in out
    assert "Result:FAIL [Total:3] [Passed:0] [Failed:1] [Skipped:2]" in out


def test_ci_passes_with_loose_thresholds(root: Path, tmp_path: Path) -> None:
    rc, out, err = _run(
        root,
        "--ci",
        "--lowest-efficiency=0",
        "--highest-wasted-bytes=20MB",
        "--highest-user-wasted-percent=1",
        cwd=tmp_path,
    )
    assert rc == 0, err
    assert "Result:PASS [Total:3] [Passed:3] [Failed:0] [Skipped:0]" in out


def test_ci_defaults_are_dives(root: Path, tmp_path: Path) -> None:
    rc, out, _ = _run(root, "--ci", "--format", "json", cwd=tmp_path)
    assert rc == EXIT_FINDINGS
    rules = {r["rule"]: r for r in json.loads(out)["ci"]["rules"]}
    assert rules["lowestEfficiency"]["threshold"] == "0.9"
    assert rules["lowestEfficiency"]["status"] == "fail"
    assert rules["highestWastedBytes"]["status"] == "disabled"
    assert rules["highestUserWastedPercent"]["source"] == "dive's default"


def test_dive_ci_file_is_honoured_and_the_policy_file_wins(root: Path, tmp_path: Path) -> None:
    (tmp_path / ".dive-ci").write_text(
        "rules:\n  lowestEfficiency: 0\n  highestWastedBytes: 1KB\n"
        "  highestUserWastedPercent: disabled\n"
    )
    rc, out, _ = _run(root, "--ci", cwd=tmp_path)
    assert rc == EXIT_FINDINGS
    assert "FAIL: highestWastedBytes: too many bytes wasted" in out and ".dive-ci]" in out
    assert "PASS: lowestEfficiency" in out
    (tmp_path / "imageforge.toml").write_text('[analyze]\nhighest-wasted-bytes = "20MB"\n')
    rc, out, _ = _run(root, "--ci", cwd=tmp_path)
    assert rc == 0, out
    rc, out, _ = _run(root, "--ci", "--highest-wasted-bytes", "1MB", cwd=tmp_path)
    assert rc == EXIT_FINDINGS and "[command line]" in out


def test_measure_imageforge(root: Path, tmp_path: Path) -> None:
    threshold = str(DIVE_WASTED)  # dive's wasted bytes pass; imageforge's do not
    args = ["--ci", "--lowest-efficiency=0", "--highest-user-wasted-percent=1"]
    rc, _, _ = _run(root, *args, "--highest-wasted-bytes", threshold, cwd=tmp_path)
    assert rc == 0
    rc, out, _ = _run(
        root, *args, "--highest-wasted-bytes", threshold, "--measure", "imageforge", cwd=tmp_path
    )
    assert rc == EXIT_FINDINGS and f"wasted-bytes={OWN_WASTED}" in out


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--ci", "--highest-wasted-bytes", "lots"], "'lots' is not a size"),
        (["--ci", "--lowest-efficiency", "2"], "outside the allowed range 0-1"),
        (["--lowest-efficiency", "0.5"], "thresholds need --ci"),
        (["--layer", "2"], "--layer needs --tree"),
        (["--tree", "--layer", "9"], "layer 9 does not exist"),
    ],
)
def test_bad_arguments(root: Path, tmp_path: Path, args: list[str], needle: str) -> None:
    rc, out, err = _run(root, *args, cwd=tmp_path)
    assert rc == EXIT_CODES[ErrorKind.INVALID_ARGUMENT]
    assert needle in err and out == ""


def test_trees_in_plain_text(root: Path) -> None:
    rc, out, _ = _run(root, "--tree")
    assert rc == 0
    lines = out.splitlines()
    assert lines[0] == "docker.io/library/waste:1: merged image"
    assert "M   conf  300 B" in lines  # written by three layers
    assert "D   big  10 MB" in lines  # removed on the way
    assert "    sh  1 kB" in lines  # from the first layer, never touched
    rc, out, _ = _run(root, "--tree", "--layer", "6")
    assert rc == 0
    lines = out.splitlines()
    assert lines[0].startswith("docker.io/library/waste:1: layer 6: RUN rm -rf /opt/app")
    assert lines[1:] == [
        "  opt/  900 B",
        "    app/  900 B",
        "D     a  5 kB",
        "D     b  7 kB",
        "A     c  900 B",
    ]
    rc, out, _ = _run(root, "--tree", "--layer", "3", "--format", "json")
    doc = json.loads(out)
    assert doc["layer"] == 3
    big = doc["tree"]["children"][0]["children"][0]
    assert (big["path"], big["change"], big["size"], big["layer"]) == (
        "tmp/big",
        "removed",
        MB10,
        2,
    )


def test_a_corrupt_layer_is_named(tmp_path: Path) -> None:
    root = tmp_path / "store"
    name = str(Reference.parse("waste:1").with_default_tag())
    image = known_waste_image()
    write_image(image, TransportRef("store", name), Store(root))
    digest = image.manifest().layers[3].digest
    blob = root / "blobs" / digest.algorithm / digest.hex
    raw = bytearray(blob.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    blob.chmod(0o644)
    blob.write_bytes(bytes(raw))
    rc, out, err = _run(root)
    assert rc in (EXIT_CODES[ErrorKind.DIGEST_MISMATCH], EXIT_CODES[ErrorKind.INVALID_ARGUMENT])
    assert f"layer #4 ({digest})" in err and out == ""


def test_other_transports(root: Path, tmp_path: Path) -> None:
    layout = tmp_path / "layout"
    write_image(known_waste_image(), TransportRef("oci", str(layout), "v1"))
    proc = run_cli(["analyze", f"oci:{layout}:v1", "--format", "json", "--progress", "quiet"])
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["waste"]["wastedBytes"] == OWN_WASTED


def test_tree_on_a_terminal_is_coloured(root: Path) -> None:
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "IMAGEFORGE_ROOT")}
    env.update(TERM="xterm-256color", COLUMNS="120")
    cmd = [*imageforge_cmd(), "--root", str(root), "analyze", "waste:1", "--tree"]
    proc = subprocess.Popen(
        [*cmd, "--progress", "quiet"], stdout=slave, stderr=subprocess.DEVNULL, env=env
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert proc.wait(timeout=60) == 0
    out = b"".join(chunks).decode()
    assert "\x1b[" in out  # coloured
    assert "\x1b[33mconf  300 B" in out  # modified: yellow
    assert "\x1b[9;31mbig  10 MB" in out or "\x1b[31;9mbig  10 MB" in out  # removed: struck red
    assert "├──" in out or "└──" in out  # drawn as a tree


def test_help_states_the_threshold_precedence() -> None:
    proc = run_cli(["analyze", "--help"])
    text = " ".join(proc.stdout.split())
    assert proc.returncode == 0
    assert "the command line, then [analyze] in imageforge.toml" in text
    assert "then .dive-ci" in text and "then dive's defaults" in text
