"""The build plan, worked out without root, a runtime or a store: the stage graph,
``--target`` pruning, ARG scoping, ONBUILD triggers and the pieces of the cache keys."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pytest

from imageforge.builder import BuildOptions, BuildPlan, plan_build
from imageforge.builder._plan import (
    RunInputs,
    final_key,
    onbuild_triggers,
    step_key,
    step_position,
)
from imageforge.dockerfile import Copy, Env, parse
from imageforge.errors import Denied, InvalidArgument


@dataclass(frozen=True)
class Options:
    """The plan's options as a library caller may give them (no BuildOptions needed)."""

    build_args: Mapping[str, str] = field(default_factory=dict)
    target: str | None = None
    network: str = "private"
    allow: frozenset[str] = frozenset()


def _plan(text: str, options: Options | None = None, **env: str) -> BuildPlan:
    return plan_build(
        parse(text),
        options or Options(),
        base_env=lambda image, platform: {"PATH": "/bin", **env},
    )


MULTI = """\
FROM busybox AS deps
RUN echo deps > /deps
FROM busybox AS tools
RUN echo tools > /tools
FROM busybox AS unused
RUN echo never
FROM deps AS build
COPY --from=tools /tools /tools
RUN --mount=type=bind,from=unused2,target=/x true
FROM scratch AS unused2
COPY --from=0 /deps /deps
FROM build
COPY --from=tools /tools /again
"""


def test_the_stage_graph_follows_from_copy_from_and_mount_from() -> None:
    plan = _plan(MULTI)
    assert plan.deps[3] == (0, 1)  # FROM deps, COPY --from=tools
    assert plan.deps[5] == (1, 3)  # FROM build, COPY --from=tools
    assert plan.target == 5
    assert plan.stages == (0, 1, 3, 5)  # "unused" and a later stage are never run


def test_a_stage_used_only_by_a_run_mount_is_built_first() -> None:
    text = """\
FROM busybox AS assets
RUN echo a > /a
FROM busybox
RUN --mount=type=bind,from=assets,target=/assets cat /assets/a
"""
    plan = _plan(text)
    assert plan.stages == (0, 1)
    assert plan.deps[1] == (0,)


def test_target_prunes_to_what_it_needs() -> None:
    plan = _plan(MULTI, Options(target="build"))
    assert plan.target == 3 and plan.stages == (0, 1, 3)
    by_number = _plan(MULTI, Options(target="1"))
    assert by_number.target == 1 and by_number.stages == (1,)


def test_an_unknown_target_names_the_stages() -> None:
    with pytest.raises(InvalidArgument, match="--target 'nope': no such stage") as exc:
        _plan(MULTI, Options(target="nope"))
    assert exc.value.hint is not None and "deps, tools, unused, build" in exc.value.hint


def test_a_stage_refers_only_to_earlier_ones() -> None:
    text = "FROM later AS first\nRUN true\nFROM busybox AS later\nRUN true\n"
    plan = _plan(text, Options(target="first"))
    assert plan.stages == (0,) and plan.deps[0] == ()
    assert plan.earlier_stage("later", 0) is None  # an image named "later", not the stage


def test_global_args_reach_from_lines_and_a_stage_only_when_declared_again() -> None:
    text = """\
ARG BASE=busybox
ARG VERSION=1
FROM ${BASE}:${VERSION}
ENV IN_STAGE=[${VERSION}]
ARG VERSION
ENV AFTER=[${VERSION}]
"""
    plan = _plan(text, Options(build_args={"VERSION": "2"}))
    stage = plan.stage(0)
    assert stage.base == "busybox:2"
    envs = [i for i in stage.instructions if isinstance(i, Env)]
    assert [p.value for e in envs for p in e.pairs] == ["[]", "[2]"]


def test_a_stage_expands_with_its_base_image_s_environment() -> None:
    plan = _plan("FROM busybox\nENV PATH=/app:$PATH HOME=$HOME\n", HOME="/root")
    (env,) = plan.stage(0).instructions
    assert isinstance(env, Env)
    assert [(p.key, p.value) for p in env.pairs] == [("PATH", "/app:/bin"), ("HOME", "/root")]


def test_unused_build_args_are_warned_about_as_soon_as_known() -> None:
    heard: list[str] = []
    with pytest.raises(InvalidArgument, match="no such stage"):
        plan_build(
            parse("FROM busybox\nARG USED\nRUN true\n"),
            Options(build_args={"USED": "1", "UNUSED": "2", "HTTP_PROXY": "p"}, target="x"),
            warn=heard.append,
        )
    assert heard == ["one or more build-args ['UNUSED'] were not consumed by any ARG"]


def test_run_network_host_is_refused_before_anything_runs() -> None:
    text = "FROM busybox\nRUN true\nRUN --network=host true\n"
    with pytest.raises(Denied, match=r"Dockerfile:3: RUN --network=host needs the network.host"):
        _plan(text)
    assert _plan(text, Options(allow=frozenset({"network.host"}))).stages == (0,)
    # a stage --target does not need is not held against the build
    pruned = "FROM busybox AS a\nRUN --network=host true\nFROM busybox AS b\nRUN true\n"
    assert _plan(pruned, Options(target="b")).stages == (1,)


def test_build_options_are_plan_options() -> None:
    from pathlib import Path

    options = BuildOptions(context=Path("."), target="tools", build_args={"X": "1"})
    plan = plan_build(parse(MULTI), options)
    assert plan.target == 1 and plan.build_args == {"X": "1"}


def test_a_dockerfile_without_from_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="no FROM instruction"):
        _plan("ARG X=1\n")


def test_onbuild_triggers_become_instructions_with_the_build_args() -> None:
    plan = _plan("FROM base\nRUN true\n")
    instructions = onbuild_triggers(
        ["ARG GREETING", "RUN echo ${GREETING}", "COPY . /src"], plan.stage(0), {"GREETING": "hi"}
    )
    assert [i.keyword for i in instructions] == ["ARG", "RUN", "COPY"]
    copy = instructions[2]
    assert isinstance(copy, Copy) and copy.dest == "/src"
    assert onbuild_triggers([], plan.stage(0), {}) == []


@pytest.mark.parametrize("trigger", ["FROM busybox", "MAINTAINER me", "ONBUILD RUN true"])
def test_onbuild_triggers_docker_forbids_are_refused(trigger: str) -> None:
    plan = _plan("FROM base\n")
    with pytest.raises(InvalidArgument, match=f"ONBUILD trigger {trigger.split()[0]}"):
        onbuild_triggers([trigger], plan.stage(0), {})


def _inputs(**changes: object) -> RunInputs:
    fields: dict[str, object] = {
        "env": {"PATH": "/bin", "A": "1"},
        "shell": ["/bin/sh", "-c"],
        "user": "",
        "cwd": "/",
        "network": "private",
        "security": "seccomp=default",
        "mounts": [],
    }
    fields.update(changes)
    return RunInputs(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "change",
    [
        {"env": {"PATH": "/bin", "A": "2"}},
        {"shell": ["/bin/bash", "-c"]},
        {"user": "nobody"},
        {"cwd": "/srv"},
        {"network": "none"},
        {"security": "seccomp=unconfined"},
        {"mounts": ["bind::.:/src:sha256:00"]},
    ],
)
def test_every_run_input_changes_the_step_key(change: dict[str, object]) -> None:
    assert _inputs().key() == _inputs().key()
    assert _inputs(**change).key() != _inputs().key()
    assert step_key("parent", _inputs(**change).key()) != step_key("parent", _inputs().key())


def test_run_inputs_say_what_changed_by_name() -> None:
    before, after = _inputs().seen(), _inputs(env={"PATH": "/bin", "A": "2"}, user="u").seen()
    assert {k for k in before if before[k] != after.get(k)} == {"env A", "user"}
    assert before["shell"] == "['/bin/sh', '-c']"


def test_env_order_does_not_change_the_key() -> None:
    assert _inputs(env={"A": "1", "PATH": "/bin"}).key() == _inputs().key()


def test_step_keys_chain_and_image_keys_take_labels_and_epoch() -> None:
    a = step_key("base", "RUN true")
    assert a == step_key("base", "RUN true") != step_key("other-base", "RUN true")
    assert step_key(a, "x") != step_key(step_key("base", "RUN false"), "x")
    assert step_key("p", "ab", "c") != step_key("p", "a", "bc")  # parts are separated
    assert final_key(a, {}, None) != final_key(a, {"k": "v"}, None)
    assert final_key(a, {}, None) != final_key(a, {}, 0)
    assert step_position("/ctx/Dockerfile", 0, 2) != step_position("/ctx/Dockerfile", 1, 2)
