"""Every version order against its ecosystem's own tool: thousands of generated strings
(hypothesis draws the seed of each batch, and names it when a batch fails) and real
version strings, each batch compared by one process of the tool (tests/vuln/oracles.py)."""

from __future__ import annotations

import glob
import itertools
import json
import random
import re
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imageforge.vuln._ver_apk import compare as apk_compare
from imageforge.vuln._ver_semver import go_toolchain_semver
from imageforge.vuln._versions import VersionError, compare, valid
from tests.conftest import need_binary
from tests.vuln import oracles, versions_gen

DATA = Path(__file__).parent / "data"
BATCH = 1500
_SETTINGS = settings(
    max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)


def _disagreements(
    scheme: str,
    pairs: Sequence[tuple[str, str]],
    oracle: Callable[[Sequence[tuple[str, str]]], Sequence[int | None]],
) -> tuple[int, list[tuple[str, str, int, int | str]]]:
    answers = oracle(pairs)
    bad: list[tuple[str, str, int, int | str]] = []
    checked = 0
    for (a, b), expected in zip(pairs, answers, strict=True):
        if expected is None:  # the tool rejects one of them: nothing to agree on
            continue
        checked += 1
        try:
            mine: int | str = compare(scheme, a, b)
        except VersionError as exc:
            mine = f"rejected: {exc}"
        if mine != expected:
            bad.append((a, b, expected, mine))
    return checked, bad


def _batch(
    gen: Callable[[random.Random], str], rnd: random.Random, n: int = BATCH
) -> list[tuple[str, str]]:
    pairs = [(gen(rnd), gen(rnd)) for _ in range(n)]
    # equal and near-equal pairs are where orders differ most
    pairs += [(a, a) for a, _ in pairs[: n // 20]]
    return pairs


def _real_pairs(versions: Sequence[str], n: int, seed: int = 0) -> list[tuple[str, str]]:
    unique = sorted(set(versions))
    rnd = random.Random(seed)
    pairs = list(itertools.combinations(unique, 2))
    rnd.shuffle(pairs)
    return pairs[:n]


# dpkg ---------------------------------------------------------------------------------


@_SETTINGS
@given(st.integers(0, 2**32))
def test_dpkg_order_agrees_with_dpkg(seed: int) -> None:
    rnd = random.Random(seed)
    checked, bad = _disagreements("dpkg", _batch(versions_gen.dpkg, rnd), oracles.dpkg_perl)
    assert checked > BATCH // 2
    assert bad == []


def _installed_debian_versions() -> list[str]:
    out = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Version}\n${source:Version}\n"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [v for v in out.splitlines() if v]


def _tracker_versions() -> list[str]:
    from tests.dockerfile.corpus import CORPUS

    found: list[str] = []
    for path in glob.glob(str(CORPUS / "debian-tracker-sample" / "data" / "*" / "list")):
        found += re.findall(r"\t(?:\[\w+\] )?- \S+ ([0-9][^\s<]*)", Path(path).read_text())
    return found


def test_dpkg_order_agrees_with_dpkg_on_real_versions() -> None:
    versions = _installed_debian_versions() + _tracker_versions()
    assert len(set(versions)) > 100
    checked, bad = _disagreements("dpkg", _real_pairs(versions, 6000), oracles.dpkg_perl)
    assert checked > 5000
    assert bad == []


def test_dpkg_order_agrees_with_the_dpkg_binary() -> None:
    """The batches use dpkg's own Perl module; a sample goes through the binary itself."""
    rnd = random.Random(20261205)
    pairs = [(versions_gen.dpkg(rnd), versions_gen.dpkg(rnd)) for _ in range(150)]
    pairs += [
        ("1:1.0", "2.0"),
        ("1.0~rc1", "1.0"),
        ("1.0", "1.0+deb12u1"),
        ("7.88.1-10+deb12u4", "7.88.1-10+deb12u10"),
        ("2.36-9+deb12u4", "2.36-9+deb12u4+b1"),
        ("1.0-1+b1", "1.0-1"),
        ("1.0-1~bpo11+1", "1.0-1"),
        ("0:1.0", "1.0"),
        ("1.0a", "1.0+"),
        ("1.0~~", "1.0~"),
    ]
    perl = oracles.dpkg_perl(pairs)
    for (a, b), batch_answer in zip(pairs, perl, strict=True):
        if batch_answer is None:
            continue
        assert compare("dpkg", a, b) == oracles.dpkg_binary(a, b), (a, b)


# npm, Cargo, Go -------------------------------------------------------------------------


@_SETTINGS
@given(st.integers(0, 2**32))
def test_npm_order_agrees_with_node_semver(seed: int) -> None:
    rnd = random.Random(seed)
    checked, bad = _disagreements("npm", _batch(versions_gen.semver, rnd), oracles.npm_semver)
    assert checked > BATCH
    assert bad == []


def _node_package_versions() -> list[str]:
    versions = []
    for path in glob.glob("/usr/share/nodejs/*/package.json") + glob.glob(
        "/usr/lib/node_modules/*/package.json"
    ):
        try:
            version = json.loads(Path(path).read_text()).get("version")
        except (OSError, ValueError):
            continue
        if isinstance(version, str):
            versions.append(version)
    return versions


def _osv_versions(ecosystem: str) -> list[str]:
    versions: list[str] = []
    for path in DATA.rglob("*.json"):
        try:
            record = json.loads(path.read_text())
        except ValueError:
            continue
        for affected in record.get("affected", []) if isinstance(record, dict) else []:
            if affected.get("package", {}).get("ecosystem", "").split(":")[0] != ecosystem:
                continue
            versions += affected.get("versions", [])
            for rng in affected.get("ranges", []):
                for event in rng.get("events", []):
                    versions += [v for k, v in event.items() if k != "limit" and v != "0"]
    return versions


def _published_npm_versions() -> list[str]:
    doc = json.loads((DATA / "npm-versions.json").read_text())
    return [v for versions in doc.values() for v in versions]


def test_npm_order_agrees_with_node_semver_on_real_versions() -> None:
    versions = _node_package_versions() + _osv_versions("npm") + _published_npm_versions()
    assert len(set(versions)) > 50
    checked, bad = _disagreements("npm", _real_pairs(versions, 5000), oracles.npm_semver)
    assert checked > 1000
    assert bad == []


@_SETTINGS
@given(st.integers(0, 2**32))
def test_cargo_and_go_orders_agree_with_semver(seed: int) -> None:
    rnd = random.Random(seed)
    """Cargo and Go module versions are SemVer 2.0 (Go with a ``v``): node's semver is
    the oracle for the order itself."""
    cargo = _batch(versions_gen.semver, rnd, BATCH // 2)
    checked, bad = _disagreements("cargo", cargo, oracles.npm_semver)
    assert checked > BATCH // 2 and bad == []
    go = _batch(versions_gen.go, rnd, BATCH // 2)
    checked, bad = _disagreements("go", go, oracles.npm_semver)
    assert checked > BATCH // 2 and bad == []


def _ascending(scheme: str, versions: Sequence[str]) -> None:
    for a, b in itertools.pairwise(versions):
        assert compare(scheme, a, b) == -1, (a, b)
        assert compare(scheme, b, a) == 1, (b, a)


def test_cargo_order_follows_the_semver_spec_examples() -> None:
    # semver.org 2.0.0, item 11 (the order Cargo's semver crate implements)
    _ascending("cargo", ["1.0.0", "2.0.0", "2.1.0", "2.1.1"])
    _ascending(
        "cargo",
        [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
        ],
    )
    assert compare("cargo", "1.0.0+build.1", "1.0.0+build.2") == 0  # build metadata: no order
    assert not valid("cargo", "1.0") and not valid("cargo", "01.0.0")


def test_go_order_follows_the_module_reference_examples() -> None:
    # go.dev/ref/mod#versions and #pseudo-versions
    _ascending(
        "go",
        [
            "v0.0.0-20191109021931-daa7c04131f5",
            "v0.1.0",
            "v1.2.3",
            "v1.2.4-0.20191109021931-daa7c04131f5",
            "v1.2.4",
            "v1.3.0-pre",
            "v1.3.0-pre.0.20191109021931-daa7c04131f5",
            "v1.3.0",
            "v2.0.0+incompatible",
        ],
    )
    assert compare("go", "v2.0.0+incompatible", "2.0.0") == 0
    assert compare("go", "v1.2.3", "1.2.3") == 0  # OSV's SEMVER events carry no "v"
    assert go_toolchain_semver("go1.21rc2") == "1.21.0-rc.2"
    assert go_toolchain_semver("go1.20") == "1.20.0"
    assert go_toolchain_semver("go1.22.3") == "1.22.3"
    assert go_toolchain_semver("devel go1.23-abc") is None
    _ascending("go", ["1.20.0", "1.21.0-rc.2", "1.21.0", "1.21.1"])


# PEP 440 --------------------------------------------------------------------------------


@_SETTINGS
@given(st.integers(0, 2**32))
def test_pep440_order_agrees_with_packaging(seed: int) -> None:
    rnd = random.Random(seed)
    from packaging.version import InvalidVersion, Version

    def oracle(pairs: Sequence[tuple[str, str]]) -> list[int | None]:
        out: list[int | None] = []
        for a, b in pairs:
            try:
                va, vb = Version(a), Version(b)
            except InvalidVersion:
                out.append(None)
                continue
            out.append((va > vb) - (va < vb))
        return out

    checked, bad = _disagreements("pep440", _batch(versions_gen.pep440, rnd), oracle)
    assert checked > BATCH // 2
    assert bad == []


def test_pep440_orders_legacy_versions_below_valid_ones() -> None:
    assert compare("pep440", "0.1dev-r1234", "0.0.1") == -1
    assert compare("pep440", "2.0b1", "2.0") == -1
    assert compare("pep440", "1.0.post1", "1.0") == 1
    assert compare("pep440", "1!0.1", "99.0") == 1


# Maven ----------------------------------------------------------------------------------


@_SETTINGS
@given(st.integers(0, 2**32))
def test_maven_order_agrees_with_comparable_version(seed: int) -> None:
    rnd = random.Random(seed)
    checked, bad = _disagreements("maven", _batch(versions_gen.maven, rnd), oracles.maven)
    assert checked > BATCH
    assert bad == []


# Version strings as artifacts on Maven Central publish them (Spring, Hibernate, Guava,
# Netty, Jackson, JUnit, log4j...): the qualifiers real projects use.
_REAL_MAVEN = [
    "2.0-beta9",
    "2.0-rc1",
    "2.0",
    "2.3.1",
    "2.12.2",
    "2.15.0",
    "2.17.1",
    "4.3.30.RELEASE",
    "5.3.18",
    "5.6.15.Final",
    "6.0.0.Alpha7",
    "6.0.0.CR1",
    "1.0.0.CR1",
    "31.1-jre",
    "32.0.0-android",
    "2.13.4.2",
    "2.13.4",
    "4.1.94.Final",
    "3.0.0-M7",
    "1.0-rc1",
    "1.0-SNAPSHOT",
    "5.10.0-M1",
    "5.10.0",
    "1.9.22.1",
    "9.4.51.v20230217",
    "11.0.15",
    "1.2.3-sp1",
    "2.4",
    "2.4.0",
    "2.4-SNAPSHOT",
    "2.4.RELEASE",
    "2.4.Final",
    "2.4-sp1",
    "1.0-alpha-1",
    "1.0-beta-2",
    "r09",
    "2.0.0-milestone-3",
    "3.1.0-b01",
    "20230227",
    "1.10.19",
    "1.7.36",
    "2.0.7",
    "2.0.0-alpha1",
]


def test_maven_order_agrees_with_comparable_version_on_real_versions() -> None:
    poms = glob.glob("/usr/share/maven-repo/**/*.pom", recursive=True)
    versions = [Path(p).parent.name for p in poms] + _osv_versions("Maven") + _REAL_MAVEN
    assert len(set(versions)) > 50
    checked, bad = _disagreements("maven", _real_pairs(versions, 4000), oracles.maven)
    assert checked > 1000
    assert bad == []
    assert compare("maven", "2.4", "2.4.0") == 0


# RubyGems -------------------------------------------------------------------------------


@_SETTINGS
@given(st.integers(0, 2**32))
def test_gem_order_agrees_with_gem_version(seed: int) -> None:
    rnd = random.Random(seed)
    checked, bad = _disagreements("gem", _batch(versions_gen.gem, rnd), oracles.rubygems)
    assert checked > BATCH // 2
    assert bad == []


def test_gem_order_agrees_with_gem_version_on_real_versions() -> None:
    gem = need_binary("gem")
    out = subprocess.run([gem, "list"], capture_output=True, text=True, check=True).stdout
    versions = re.findall(r"(?:\(|, |default: )([0-9][0-9A-Za-z.]*)", out) + _osv_versions(
        "RubyGems"
    )
    versions += ["1.0.0.pre", "1.0.0.rc1", "1.0.0.a", "1.0.0", "1.0", "1.0.0.1"]
    assert len(set(versions)) > 20
    checked, bad = _disagreements("gem", _real_pairs(versions, 3000), oracles.rubygems)
    assert checked > 200
    assert bad == []


# rpm ------------------------------------------------------------------------------------


@_SETTINGS
@given(st.integers(0, 2**32))
def test_rpm_order_agrees_with_rpm(seed: int) -> None:
    rnd = random.Random(seed)
    checked, bad = _disagreements("rpm", _batch(versions_gen.rpm, rnd), oracles.rpm)
    assert checked > BATCH
    assert bad == []


_REAL_RPM = [
    # RHEL/Rocky/Fedora/openSUSE package EVRs as their repositories name them
    "1.1.1k-7.el8_6",
    "1.1.1k-9.el8_7",
    "1:1.1.1k-12.el8_9",
    "3.0.7-16.el9",
    "3.0.7-25.el9_3",
    "1:3.0.7-27.el9",
    "2.28-225.el8",
    "2.28-225.el8_8.6",
    "2.34-60.el9",
    "2.34-83.el9_3.7",
    "7.61.1-22.el8",
    "7.61.1-30.el8_8.2",
    "7.76.1-26.el9_3.2",
    "8.2.1-3.fc39",
    "8.6.0-1.fc40",
    "1.2.11-40.el9",
    "1.2.13-5.fc39",
    "5.1-0.20230513.fc39",
    "6.4-7.20230520.fc39",
    "0.9.14~rc1-1.fc40",
    "1.0^20231015git1a2b3c-1.fc40",
    "4.18.2-1.1",
    "2.37.4-150500.9.3.1",
    "1.3.1-150000.4.7.1",
    "1:2.9.14-1.el9",
    "2:8.2.2637-20.el9_1",
    "32:9.16.23-14.el9_3",
]


def test_rpm_order_agrees_with_rpm_on_real_versions() -> None:
    versions = _REAL_RPM + _installed_debian_versions()[:150]
    checked, bad = _disagreements("rpm", _real_pairs(versions, 5000), oracles.rpm)
    assert checked > 4000
    assert bad == []


# apk ------------------------------------------------------------------------------------

# Cases of apk-tools' own test suite (test/version.data) and of Alpine's package policy:
# apk is not packaged for Debian, so these documented answers are the oracle.
_APK_CASES = [
    ("2.34", ">", "0.1.0_alpha"),
    ("23_foo", ">", "4_beta"),
    ("1.0", "<", "1.0bc"),
    ("0.1.0_alpha", "=", "0.1.0_alpha"),
    ("0.1.0_alpha2", ">", "0.1.0_alpha"),
    ("1.1", ">", "1.1_alpha1"),
    ("1.2.1", ">", "1.2"),
    ("0.12.3", ">", "0.12"),
    ("0.12", "<", "0.13_beta1"),
    ("3.1_p16", "<", "3.1_p17"),
    ("1.06-r6", "<", "006"),
    ("006", ">", "1.0.0"),
    ("1.2.2-r1", ">", "1.2.2"),
    ("9.3.4-r2", ">", "9.3.4"),
    ("2.3.0b-r1", "<", "2.3.0b-r2"),
    ("4.5_p1-r1", ">", "4.5_p1"),
    ("0.1.0_alpha_pre2", "<", "0.1.0_alpha"),
    ("1.0_p10-r0", ">", "1.0_p9-r0"),
    ("1.0.0_pre20191002222144-r0", "<", "1.0.0_pre20210530193627-r0"),
    ("1.3_pre1-r1", "<", "1.3.2"),
    ("1.3-r0", "<", "1.3.1-r0"),
    ("2.12r-r4", "<", "2.12r-r5"),
    ("0.59s-r11", "<", "0.65"),
    ("1.7", "<", "1.7b"),
    ("1.8.5", "<", "1.8.5_p2"),
    ("20060720", ">", "3.0.20060720"),
    ("0.9.28.1", "<", "087-r1"),
    ("1.02", "<", "1.03-r1"),
    ("7.0.17", "<", "7.0.174"),
    ("1.2.07.8", "<", "1.2.12.04"),
    ("1.0.1", "=", "1.0.1"),
    ("2.9.11_pre20051101-r3", ">", "2.9.11_pre20051101"),
    ("0.10.0", "<", "0.10.1_rc1"),
    ("3.9_pre20060124", ">", "0.01"),
    ("02.08.01b", "<", "4.77"),
    ("1.0.0", "<", "10-r1"),
    ("0.20070118", "<", "0.20070207_rc1"),
    ("0.9.8c-r1", "<", "0.9.8d"),
    ("1.6.8_p12-r1", ">", "1.6.8_p9-r2"),
    ("2.1_pre20", "<", "2.1_pre26"),
    ("3.0.8-r0", "<", "3.0.8-r1"),
    ("3.1.4-r5", "<", "3.1.5-r0"),
    ("1.36.1-r15", ">", "1.36.1-r2"),
]


def test_apk_order_follows_apk_tools_cases() -> None:
    wrong = []
    for a, op, b in _APK_CASES:
        expected = {"<": -1, "=": 0, ">": 1}[op]
        if compare("apk", a, b) != expected or compare("apk", b, a) != -expected:
            wrong.append((a, op, b))
    assert wrong == []


@_SETTINGS
@given(st.integers(0, 2**32))
def test_apk_order_is_a_total_order(seed: int) -> None:
    rnd = random.Random(seed)
    """No tool to ask here: the order must at least be consistent (antisymmetric and
    transitive over a sorted batch), or a range check could answer both ways."""
    versions = sorted({versions_gen.apk(rnd) for _ in range(400)})
    import functools

    ordered = sorted(versions, key=functools.cmp_to_key(apk_compare))
    for i, a in enumerate(ordered):
        for b in ordered[i + 1 : i + 8]:
            assert apk_compare(a, b) <= 0 and apk_compare(b, a) >= 0, (a, b)
