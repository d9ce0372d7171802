"""doctor's rules on the package managers' own words in the shapes the corpus
(test_doctor.py, which causes Maven's and apt's conflicts for real) does not produce:
newer enforcer releases' prefixed, coloured report, several conflicts, apt's ranges and
further dependencies of one package; the history's reader, and bad input: a file that
is no build log, a store with no failed build."""

from __future__ import annotations

from pathlib import Path

from imageforge.pipeline._build_history import BuildRecord, append_record, read_history
from imageforge.pipeline._build_stats import build_stats
from imageforge.pipeline._doctor import FailedBuild, diagnose, failed_build_from_log
from tests.conftest import run_cli

MAVEN = "\n".join(
    [
        "[WARNING] Rule 0: org.apache.maven.plugins.enforcer.DependencyConvergence failed"
        " with message:",
        "Failed while enforcing releasability. See above detailed error message.",
        "Dependency convergence error for"
        " com.fasterxml.jackson.core:jackson-databind:jar:2.15.2 paths to dependency are:",
        "+-com.example:shop:jar:1.0",
        "  +-com.fasterxml.jackson.core:jackson-databind:jar:2.15.2",
        "and",
        "+-com.example:shop:jar:1.0",
        "  +-org.springframework.boot:spring-boot-starter-json:jar:2.7.0",
        "    +-com.fasterxml.jackson.core:jackson-databind:jar:2.13.3",
        "[ERROR] Failed to execute goal"
        " org.apache.maven.plugins:maven-enforcer-plugin:3.4.1:enforce",
    ]
)

APT = """Reading package lists...
Some packages could not be installed. This may mean that you have
requested an impossible situation.
The following packages have unmet dependencies:
 libssl-dev : Depends: libssl3 (= 3.0.11-1~deb12u2) but 3.0.13-1~deb12u1 is to be installed
E: Unable to correct problems, you have held broken packages.
"""


def test_maven_dependency_convergence_names_the_versions_and_the_pin() -> None:
    d = diagnose(failed_build_from_log(MAVEN, "mvn.log"))
    assert d.cause == "maven-conflict"
    assert "com.fasterxml.jackson.core:jackson-databind: 2.13.3, 2.15.2" in d.details
    assert "<artifactId>jackson-databind</artifactId><version>2.15.2</version>" in d.fix


def test_apt_held_broken_packages_names_the_dependency_and_the_pin() -> None:
    d = diagnose(failed_build_from_log(APT, "apt.log"))
    assert d.cause == "apt-conflict"
    assert "libssl3=3.0.11-1~deb12u2" in d.fix


# enforcer 3.4's report: every line after "[ERROR] ", coloured on a terminal, next to
# lines that name other versions of other artifacts (a relocated plugin)
NEWER_ENFORCER = "\n".join(
    [
        "[WARNING] The artifact org.apache.maven.plugins:maven-dependency-plugin:jar:2.8 has"
        " been relocated to org.apache.maven.plugins:maven-dependency-plugin:jar:3.5.0",
        "[\x1b[1;31mERROR\x1b[m] Rule 0: org.apache.maven.enforcer.rules.dependency."
        "DependencyConvergence failed with message:",
        "[ERROR] Failed while enforcing releasability.",
        "[ERROR] ",
        "[ERROR] Dependency convergence error for org.yaml:snakeyaml:jar:1.33:compile paths to"
        " dependency are:",
        "[ERROR] +-com.example:shop:jar:1.0",
        "[ERROR]   +-org.springframework.boot:spring-boot-starter:jar:2.7.0:compile",
        "[ERROR]     +-org.yaml:snakeyaml:jar:1.33:compile",
        "[ERROR] and",
        "[ERROR] +-com.example:shop:jar:1.0",
        "[ERROR]   +-io.swagger.core.v3:swagger-core:jar:2.2.9:compile",
        "[ERROR]     +-com.fasterxml.jackson.dataformat:jackson-dataformat-yaml:jar:2.9.0:compile",
        "[ERROR]       +-org.yaml:snakeyaml:jar:2.0:compile",
        "[ERROR] ",
        "[ERROR] Dependency convergence error for com.google.guava:guava:jar:jdk8:31.1-jre:compile"
        " paths to dependency are:",
        "[ERROR] +-com.example:shop:jar:1.0",
        "[ERROR]   +-com.google.guava:guava:jar:jdk8:31.1-jre:compile",
        "[ERROR] and",
        "[ERROR] +-com.example:shop:jar:1.0",
        "[ERROR]   +-com.google.cloud:libraries-bom:jar:26.1.0:compile",
        "[ERROR]     +-com.google.guava:guava:jar:jdk8:31.1-android:compile",
        "[ERROR] ",
        "[ERROR] Failed to execute goal org.apache.maven.plugins:maven-enforcer-plugin:3.4.1:"
        "enforce (enforce) on project shop",
    ]
)


def test_maven_report_of_newer_enforcer_names_each_conflict_and_who_brings_it() -> None:
    d = diagnose(failed_build_from_log(NEWER_ENFORCER, "mvn.log"))
    assert d.cause == "maven-conflict"
    assert d.details[:3] == (
        "org.yaml:snakeyaml: 1.33, 2.0",
        "org.springframework.boot:spring-boot-starter:2.7.0 brings org.yaml:snakeyaml:1.33",
        "com.fasterxml.jackson.dataformat:jackson-dataformat-yaml:2.9.0 brings"
        " org.yaml:snakeyaml:2.0",
    )
    # the project itself brings guava directly; the classifier is not the version
    assert "com.google.guava:guava: 31.1-android, 31.1-jre" in d.details
    assert "com.example:shop:1.0 brings com.google.guava:guava:31.1-jre" in d.details
    assert not any("maven-dependency-plugin" in x for x in d.details)
    assert "<artifactId>snakeyaml</artifactId><version>2.0</version>" in d.fix
    assert "<artifactId>guava</artifactId><version>31.1-jre</version>" in d.fix


def test_maven_pin_is_the_newest_in_maven_order_not_in_string_order() -> None:
    log = MAVEN.replace("2.15.2", "2.9.0")  # "2.9.0" > "2.13.3" as strings
    d = diagnose(failed_build_from_log(log, "mvn.log"))
    assert "com.fasterxml.jackson.core:jackson-databind: 2.9.0, 2.13.3" in d.details
    assert "<artifactId>jackson-databind</artifactId><version>2.13.3</version>" in d.fix


def test_apt_ranges_and_further_dependencies_of_one_package() -> None:
    log = (
        "The following packages have unmet dependencies:\n"
        " php8.2-mysql : Depends: php8.2-common (>= 8.2.20) but 8.2.7-1 is to be installed\n"
        "                Depends: libmysqlclient21 but it is not installable\n"
        "E: Unable to correct problems, you have held broken packages.\n"
    )
    d = diagnose(failed_build_from_log(log, "apt.log"))
    assert d.cause == "apt-conflict"
    assert d.details == (
        "php8.2-mysql needs php8.2-common (>= 8.2.20), but 8.2.7-1 is to be installed",
        "php8.2-mysql needs libmysqlclient21, but it is not installable",
    )
    assert "apt-cache policy php8.2-common" in d.fix
    assert "apt-get install php8.2-mysql php8.2-common=VERSION" in d.fix


def test_apt_unknown_package() -> None:
    log = "E: Unable to locate package libfoo-dev\n"
    d = diagnose(failed_build_from_log(log, "apt.log"))
    assert d.cause == "apt-missing" and "apt-get update" in d.fix and d.details == ("libfoo-dev",)


def test_permission_denied_without_user_is_not_blamed_on_user() -> None:
    b = FailedBuild(
        "RUN exited with code 1",
        kind="StepFailed",
        exit_code=1,
        output=("sh: /data/x: Permission denied",),
        dockerfile_text="FROM busybox\nUSER app\nFROM busybox\nRUN echo > /data/x\n",
        line=4,
    )
    assert diagnose(b).cause == "permission"  # the USER was another stage's


def test_doctor_refuses_a_file_that_is_no_build_log(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("shopping list\nmilk\n")
    r = run_cli(["--root", str(tmp_path / "root"), "doctor", str(notes)])
    assert r.returncode == 2 and "is not a log of a failed build" in r.stderr
    r = run_cli(["--root", str(tmp_path / "root"), "doctor", "--last"])
    assert r.returncode != 0 and "no failed build is recorded" in r.stderr


def test_history_skips_a_torn_line_and_stats_filter_by_days(tmp_path: Path) -> None:
    now = 1_800_000_000.0
    append_record(tmp_path, BuildRecord(now - 10 * 86400, 4.0, "failed", cause="network"))
    with (tmp_path / "builds" / "history.jsonl").open("a") as f:
        f.write('{"started": 1, "seconds"')  # a writer killed mid-line
    append_record(tmp_path, BuildRecord(now - 60, 2.0, "succeeded", steps=4, cached=3))
    assert [r.outcome for r in read_history(tmp_path)] == ["failed"]  # the torn line ate one
    (tmp_path / "builds" / "history.jsonl").write_text("")
    append_record(tmp_path, BuildRecord(now - 10 * 86400, 4.0, "failed", cause="network"))
    append_record(tmp_path, BuildRecord(now - 60, 2.0, "succeeded", steps=4, cached=3))
    everything = build_stats(tmp_path, now=now)
    assert everything.failure_rate == 0.5 and everything.causes == {"network": 1}
    recent = build_stats(tmp_path, days=7, now=now)
    assert recent.builds == 1 and recent.cache_hit_ratio == 0.75


def test_a_huge_context_is_named_when_nothing_else_explains_the_failure() -> None:
    b = FailedBuild("the build was killed", context="/src", context_bytes=3 * 1024**3)
    d = diagnose(b)
    assert d.cause == "context-too-large" and ".dockerignore" in d.fix and "3072 MiB" in d.summary
