"""Each image configuration check on images assembled in memory (a failing and a passing
image), the policy's switches, [scan.ignore], the documentation, and the Debian slim
image as bootstrapped."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from imageforge.misconfig import CHECKS, base_layer_count, check_image, check_page, write_check_docs
from imageforge.policy import load_policy
from imageforge.report import to_sarif
from tests.bootstrap.conftest import DebianSlim
from tests.conftest import requires_root
from tests.secrets.conftest import make_image

DOCS = Path(__file__).resolve().parents[2] / "docs" / "misconfig"
BASE = "sha256:" + "ab" * 32
PASSWD = (
    b"root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\ntoor:x:0:0::/:/bin/sh\n"
)

BAD_CONFIG = {
    "Env": ["PATH=/usr/bin", "DB_PASSWORD=s3cr3t-value", "DB_PASSWORD_FILE=/run/secrets/db"],
    "ExposedPorts": {"22/tcp": {}, "8080/tcp": {}},
}
GOOD_CONFIG = {
    "User": "10001:10001",
    "Env": ["PATH=/usr/bin", "TOKEN_FILE=/run/secrets/token"],
    "ExposedPorts": {"8080/tcp": {}},
    "Healthcheck": {"Test": ["CMD", "/app", "--health"]},
}


def _bad_image() -> Any:
    return make_image(
        [
            (
                "ADD file:0123abcd in /",
                {"bin/sh": b"#!", "etc/passwd": PASSWD, "usr/bin/passwd": ("mode", 0o4755, b"ELF")},
            ),  # fmt: skip
            (
                "RUN apt-get install gcc && chmod u+s /usr/local/bin/tool",
                {
                    "usr/bin/gcc-12": b"ELF",
                    "usr/bin/apt-get": b"ELF",
                    "usr/local/bin/tool": ("mode", 0o4755, b"ELF"),
                    "usr/local/bin/group-tool": ("mode", 0o2755, b"ELF"),
                    "var/cache/apt/archives/gcc_12_amd64.deb": b"x" * 1000,
                    "var/lib/apt/lists/deb.debian.org_dists_bookworm_InRelease": b"x" * 500,
                    "var/lib/apt/lists/lock": b"",
                    "root/.cache/pip/http/a": b"x" * 100,
                    "srv/shared": ("dirmode", 0o777),
                    "tmp": ("dirmode", 0o1777),
                },
            ),
        ],
        config=BAD_CONFIG,
        annotations={"org.opencontainers.image.base.name": "docker.io/library/debian:bookworm"},
    )


def test_a_bad_image_fails_every_check_it_should() -> None:
    result = check_image(_bad_image(), target="bad:1")

    found: dict[str, list[str]] = {}
    for f in result.findings:
        found.setdefault(f.id, []).append(f.message)
    assert set(found) == {
        "IM101", "IM201", "IM401", "IM402", "IM501", "IM503", "IM504", "IM505", "IM506", "IM701",
    }  # fmt: skip
    assert any("debian:bookworm" in m for m in found["IM101"])
    assert {m.split(": ")[1] for m in found["IM201"]} == {
        "apt package cache", "apt package lists", "pip cache",
    }  # fmt: skip
    assert len(found["IM504"]) == 2  # the base layer's passwd is not counted
    assert any("/usr/local/bin/tool is setuid" in m for m in found["IM504"])
    assert any("/usr/local/bin/group-tool is setgid" in m for m in found["IM504"])
    assert found["IM505"] == [
        "A directory is writable by everyone and has no sticky bit: /srv/shared (mode 0777) "
        "is writable by every user and has no sticky bit"
    ]
    assert len(found["IM506"]) == 1 and "DB_PASSWORD " in found["IM506"][0]
    assert "s3cr3t-value" not in json.dumps(result.to_json())
    setuid = next(f for f in result.findings if f.target == "/usr/local/bin/tool")
    assert setuid.layer is not None and setuid.layer.number == 2
    assert setuid.layer.created_by is not None and setuid.layer.created_by.startswith("RUN apt-get")
    assert result.findings[0].severity == "HIGH"  # worst first


def test_a_good_image_passes_every_check() -> None:
    image = make_image(
        [
            ("ADD file:0123abcd in /", {"bin/sh": b"#!", "etc/passwd": PASSWD}),
            ("COPY app /app", {"app/run": ("mode", 0o755, b"ELF"), "tmp": ("dirmode", 0o1777)}),
        ],
        config=GOOD_CONFIG,
        annotations={
            "org.opencontainers.image.base.name": "docker.io/library/debian:bookworm",
            "org.opencontainers.image.base.digest": BASE,
        },
    )
    assert check_image(image).findings == []


@pytest.mark.parametrize(
    "user, expected",
    [
        ("", {"IM501"}),
        ("root", {"IM501"}),
        ("0:0", {"IM501"}),
        ("toor", {"IM501"}),  # a name for uid 0 in the image's /etc/passwd
        ("app", {"IM502"}),
        ("app:app", {"IM502"}),
        ("ghost", {"IM502"}),  # not in /etc/passwd
        ("1000", set()),
        ("1000:1000", set()),
    ],
)
def test_the_user(user: str, expected: set[str]) -> None:
    config = dict(GOOD_CONFIG, User=user)
    image = make_image([("ADD file:x in /", {"etc/passwd": PASSWD})], config=config)
    ids = {f.id for f in check_image(image).findings}
    assert ids == expected


def test_base_image_recorded_pinned_and_not_at_all() -> None:
    layers = [("ADD file:x in /", {"etc/passwd": PASSWD}), ("COPY app /app", {"app/x": b"1"})]
    unrecorded = make_image(layers, config=GOOD_CONFIG)
    by_name = make_image(
        layers,
        config=GOOD_CONFIG,
        annotations={"org.opencontainers.image.base.name": f"docker.io/library/debian@{BASE}"},
    )
    as_labels = make_image(
        layers,
        config=dict(GOOD_CONFIG, Labels={"org.opencontainers.image.base.name": "debian:12"}),
    )
    assert {f.id for f in check_image(unrecorded).findings} == {"IM102"}
    assert check_image(by_name).findings == []
    assert {f.id for f in check_image(as_labels).findings} == {"IM101"}
    # a base image itself (one layer laid down whole) records no base
    assert check_image(make_image(layers[:1], config=GOOD_CONFIG)).findings == []


def test_no_healthcheck_and_healthcheck_none() -> None:
    none = dict(GOOD_CONFIG, Healthcheck={"Test": ["NONE"]})
    image = make_image([("ADD file:x in /", {"etc/passwd": PASSWD})], config=none)
    (finding,) = check_image(image).findings
    assert finding.id == "IM701" and "HEALTHCHECK NONE" in finding.message


def test_base_layers_from_the_history_the_policy_and_the_caller() -> None:
    image = _bad_image()
    from imageforge.analyze import layer_origins

    assert base_layer_count(layer_origins(image)) == 1
    assert base_layer_count(layer_origins(make_image([
        ("imageforge bootstrap debian --slim (debootstrap)", {"a": b"1"}),
        ("RUN make", {"b": b"1"}),
    ]))) == 1  # fmt: skip
    assert base_layer_count(layer_origins(make_image([("RUN a", {}), ("RUN b", {})]))) == 1
    counted = {f.target for f in check_image(image, base_layers=0).findings if f.id == "IM504"}
    assert "/usr/bin/passwd" in counted
    assert not [f for f in check_image(image, base_layers=2).findings if f.id == "IM504"]


def test_policy_disables_checks_and_changes_severities(tmp_path: Path) -> None:
    (tmp_path / "imageforge.toml").write_text(
        '[scan.misconfig]\ndisable = ["IM7", "IM402"]\nseverity = { IM501 = "critical" }\n'
        "base-layers = 0\n"
    )
    policy = load_policy(tmp_path / "imageforge.toml").scan.misconfig

    result = check_image(_bad_image(), policy)

    ids = {f.id for f in result.findings}
    assert "IM701" not in ids and "IM402" not in ids
    assert next(f for f in result.findings if f.id == "IM501").severity == "CRITICAL"
    assert any(f.target == "/usr/bin/passwd" for f in result.findings)  # base-layers = 0


def test_scan_ignore_suppresses_a_check_with_its_reason_until_it_expires(tmp_path: Path) -> None:
    (tmp_path / "imageforge.toml").write_text(
        "[scan.ignore]\n"
        'IM701 = { reason = "the orchestrator probes it" }\n'
        'IM503 = { reason = "debug image", expires = 2020-01-01 }\n'
    )
    ignores = load_policy(tmp_path / "imageforge.toml").scan.ignore
    result = check_image(_bad_image())

    result.suppress(ignores, dt.date(2026, 12, 6))

    ids = {f.id for f in result.findings}
    assert "IM701" not in ids and "IM503" in ids
    assert [f.id for f in result.suppressed] == ["IM701"]
    doc = result.to_json()
    assert doc["misconfigScan"]["suppressed"][0]["suppressedBy"]["reason"] == (
        "the orchestrator probes it"
    )
    assert any("IM503 expired on 2020-01-01" in w for w in result.warnings)


@pytest.mark.parametrize(
    "toml", ['disable = "IM1"', "base-layers = -1", 'severity = { IM501 = "x" }']
)
def test_bad_policy_settings_are_refused(tmp_path: Path, toml: str) -> None:
    from imageforge.errors import InvalidArgument

    (tmp_path / "imageforge.toml").write_text(f"[scan.misconfig]\n{toml}\n")
    with pytest.raises(InvalidArgument):
        load_policy(tmp_path / "imageforge.toml")


def test_sarif_of_the_findings_validates(sarif_schema: dict[str, Any]) -> None:
    sarif = to_sarif(check_image(_bad_image()).to_report("0.0.0"))
    jsonschema.Draft4Validator(sarif_schema).validate(sarif)
    rules = sarif["runs"][0]["tool"]["driver"]["rules"]
    assert {r["id"] for r in rules} >= {"IM501", "IM504"}
    assert all(r["helpUri"].endswith(f"docs/misconfig/{r['id']}.md") for r in rules)


def test_every_check_has_its_page_and_the_pages_are_current(tmp_path: Path) -> None:
    assert {p.stem for p in DOCS.glob("IM*.md")} == {c.id for c in CHECKS}
    stale = [c.id for c in CHECKS if (DOCS / f"{c.id}.md").read_text() != check_page(c)]
    assert stale == [], "run `make docs`"
    (tmp_path / "IM999.md").write_text("gone")
    written = write_check_docs(tmp_path)
    assert {p.name for p in written} == {f"{c.id}.md" for c in CHECKS}
    assert not (tmp_path / "IM999.md").exists()
    assert (tmp_path / "README.md").read_text() == (DOCS / "README.md").read_text()


def test_ids_are_unique_and_grouped_by_guide_section() -> None:
    ids = [c.id for c in CHECKS]
    assert len(set(ids)) == len(ids)
    for c in CHECKS:
        assert c.severity in ("CRITICAL", "HIGH", "MEDIUM", "LOW")
        assert c.id[2] == {"1.1": "1", "1.2": "2", "2.2": "4", "3.1": "5", "4.2": "7"}[c.section]


@requires_root
@pytest.mark.slow
def test_the_debian_slim_image(debian_slim: DebianSlim) -> None:
    from imageforge.transports import open_source, select_platform

    with open_source(f"oci:{debian_slim.layout}:bookworm-slim") as obj:
        result = check_image(select_platform(obj))

    assert {(f.id, f.target) for f in result.findings} == {
        ("IM501", "config"),
        ("IM701", "config"),
        ("IM402", "/usr/bin/apt"),
        ("IM402", "/usr/bin/apt-get"),
        ("IM402", "/usr/bin/dpkg"),
    }
    assert result.warnings == []
