"""The plan of a build for a target platform, without root: BuildKit's automatic
platform args (in FROM lines and before the first FROM too), each stage's platform
(``FROM --platform=$BUILDPLATFORM`` builds for this machine, a child stage for its
parent's), and bad platforms refused with where they are written."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pytest

from imageforge.builder import BuildPlan, plan_build
from imageforge.dockerfile import parse, platform_arg, predefined_args
from imageforge.errors import InvalidArgument
from imageforge.oci import Platform, host_platform
from imageforge.pipeline import target_platforms


@dataclass(frozen=True)
class Options:
    build_args: Mapping[str, str] = field(default_factory=dict)
    target: str | None = None
    network: str = "private"
    allow: frozenset[str] = frozenset()


HOST = platform_arg(host_platform())


def _plan(
    text: str, platform: str | None, seen: list[tuple[str, str | None]] | None = None
) -> BuildPlan:
    def env(image: str, plat: str | None) -> Mapping[str, str]:
        if seen is not None:
            seen.append((image, plat))
        return {"PATH": "/bin"}

    return plan_build(parse(text), Options(), base_env=env, platform=platform)


@pytest.mark.parametrize(
    ("given", "platform", "arch", "variant"),
    [
        ("linux/arm64", "linux/arm64", "arm64", ""),
        ("linux/arm64/v8", "linux/arm64", "arm64", ""),  # containerd's normal form
        ("linux/arm/v7", "linux/arm/v7", "arm", "v7"),
        ("linux/arm", "linux/arm/v7", "arm", "v7"),
        ("linux/amd64", "linux/amd64", "amd64", ""),
        ("linux/s390x", "linux/s390x", "s390x", ""),
    ],
)
def test_the_target_args_have_buildkits_values(
    given: str, platform: str, arch: str, variant: str
) -> None:
    plan = _plan("FROM busybox\nRUN true\n", given)
    args = plan.resolution.global_args
    assert args["TARGETPLATFORM"] == platform
    assert (args["TARGETOS"], args["TARGETARCH"], args["TARGETVARIANT"]) == ("linux", arch, variant)
    assert args["BUILDPLATFORM"] == HOST
    assert args["BUILDARCH"] == host_platform().architecture
    assert plan.platform == platform
    assert plan.stage_platform(0) == platform


def test_without_a_platform_the_target_is_this_machine() -> None:
    plan = _plan("FROM busybox\n", None)
    assert plan.resolution.global_args["TARGETPLATFORM"] == HOST
    assert plan.platform is None and plan.stage_platform(0) is None
    assert plan.run_platforms() == ()


def test_targetarch_before_the_first_from_names_the_base() -> None:
    seen: list[tuple[str, str | None]] = []
    plan = _plan(
        "ARG TARGETARCH\nFROM base-${TARGETARCH}\nARG TARGETARCH\nRUN echo $TARGETARCH\n",
        "linux/arm64",
        seen,
    )
    assert plan.stage(0).base == "base-arm64"
    assert seen == [("base-arm64", "linux/arm64")]  # its environment for the target
    run = plan.stage(0).instructions[-1]
    assert plan.stage(0).env["TARGETARCH"] == "arm64"
    assert "echo $TARGETARCH" in run.source


CROSS = """\
FROM --platform=$BUILDPLATFORM golang AS build
ARG TARGETARCH
RUN echo GOARCH=$TARGETARCH
FROM build AS tested
RUN true
FROM busybox
COPY --from=tested /out /out
"""


def test_a_stage_from_buildplatform_runs_natively_and_its_child_too() -> None:
    seen: list[tuple[str, str | None]] = []
    plan = _plan(CROSS, "linux/arm64", seen)
    assert plan.stage_platform(0) == HOST
    assert plan.stage_platform(1) == HOST  # FROM build: the parent's platform
    assert plan.stage_platform(2) == "linux/arm64"
    assert ("golang", HOST) in seen and ("busybox", "linux/arm64") in seen
    assert plan.stage(0).env["TARGETARCH"] == "arm64"  # what GOARCH is set from
    # only stages with RUN steps need to run here; both run natively
    assert plan.run_platforms() == (Platform.parse(HOST),)


def test_run_platforms_name_the_foreign_ones_a_run_needs() -> None:
    plan = _plan("FROM busybox\nRUN true\nFROM --platform=linux/s390x busybox\n", "linux/arm64")
    # stage 0 is not needed (the last stage is the target): only s390x, with no RUN
    assert plan.run_platforms() == ()
    plan = _plan("FROM --platform=linux/s390x busybox\nRUN true\n", "linux/arm64")
    assert plan.run_platforms() == (Platform.parse("linux/s390x"),)


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ("linux/arm65", "no architecture 'arm65'"),
        ("lunix/arm64", "no operating system 'lunix'"),
        ("linux/", "invalid platform"),
        ("a/b/c/d", "invalid platform"),
    ],
)
def test_an_unknown_platform_is_refused_with_the_known_names(given: str, says: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        _plan("FROM busybox\nRUN true\n", given)
    assert says in err.value.message
    with pytest.raises(InvalidArgument):
        target_platforms([given])


def test_a_bad_from_platform_is_refused_where_it_is_written() -> None:
    with pytest.raises(InvalidArgument) as err:
        _plan("FROM busybox\nRUN true\nFROM --platform=linux/bogus busybox\n", None)
    assert "FROM --platform" in err.value.message
    assert "no architecture 'bogus'" in err.value.message
    assert err.value.location is not None and err.value.location.line == 3
    assert err.value.hint is not None and "arm64" in err.value.hint


def test_platform_list_is_split_checked_and_given_once() -> None:
    assert target_platforms(["linux/amd64,linux/arm64", "linux/arm64/v8", "arm/v7"]) == (
        "linux/amd64",
        "linux/arm64",
        "linux/arm/v7",
    )
    with pytest.raises(InvalidArgument, match="empty platform"):
        target_platforms(["linux/amd64,"])


def test_buildkit_spells_predefined_args_from_the_same_function() -> None:
    args = predefined_args(target_platform=platform_arg(Platform.parse("linux/arm64")))
    assert args["TARGETPLATFORM"] == "linux/arm64" and args["TARGETVARIANT"] == ""
