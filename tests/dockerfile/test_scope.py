"""Build args, ARG/ENV scoping and which instructions expand, as BuildKit does."""

from __future__ import annotations

import pytest

from imageforge.dockerfile import (
    Arg,
    ArgDef,
    Cmd,
    Copy,
    Env,
    Expose,
    Label,
    Onbuild,
    Run,
    User,
    Volume,
    Workdir,
    parse,
    predefined_args,
    resolve,
)
from imageforge.errors import InvalidArgument

DOCKERFILE = """\
ARG VERSION=1.2
ARG BASE=alpine:${VERSION}
FROM --platform=$BUILDPLATFORM ${BASE} AS build
RUN echo $VERSION
ARG VERSION
ARG TARGETARCH
ENV A=$VERSION B=${A:-unset}
ENV C=$A
COPY --chown=${A} app-$TARGETARCH /dst/$VERSION
CMD echo $A
FROM build AS second
WORKDIR /w/$C
USER ${NOPE:-nobody}
LABEL "k-$C"="v $C"
VOLUME /data/$C
EXPOSE $PORTS 80/tcp
"""


def test_global_args_feed_from_and_platform() -> None:
    res = resolve(parse(DOCKERFILE), build_platform="linux/amd64", target_platform="linux/arm64")
    first = res.stages[0]
    assert (first.base, first.platform) == ("alpine:1.2", "linux/amd64")
    assert res.global_args["VERSION"] == "1.2"
    assert res.global_args["BASE"] == "alpine:1.2"


def test_build_args_override_global_defaults() -> None:
    res = resolve(parse(DOCKERFILE), build_args={"VERSION": "3.0"}, build_platform="linux/amd64")
    assert res.stages[0].base == "alpine:3.0"


def test_a_global_arg_is_invisible_in_a_stage_until_redeclared() -> None:
    res = resolve(parse(DOCKERFILE), build_platform="linux/amd64", target_platform="linux/arm64")
    stage = res.stages[0]
    env_args = [i for i in stage.instructions if isinstance(i, Env)]
    assert env_args[0].pairs[0].value == "1.2"  # after ARG VERSION
    # ENV expands with the environment before the instruction: A is not yet set for B.
    assert env_args[0].pairs[1].value == "unset"
    assert env_args[1].pairs[0].value == "1.2"
    copy = next(i for i in stage.instructions if isinstance(i, Copy))
    assert (copy.sources, copy.dest, copy.chown) == (("app-arm64",), "/dst/1.2", "1.2")
    assert stage.args == {"VERSION": "1.2", "TARGETARCH": "arm64"}


def test_run_and_cmd_are_not_expanded_by_the_frontend() -> None:
    res = resolve(parse(DOCKERFILE), build_platform="linux/amd64")
    stage = res.stages[0]
    run = next(i for i in stage.instructions if isinstance(i, Run))
    cmd = next(i for i in stage.instructions if isinstance(i, Cmd))
    assert run.args == ("echo $VERSION",)
    assert cmd.args == ("echo $A",)


def test_a_child_stage_inherits_its_parents_environment() -> None:
    res = resolve(parse(DOCKERFILE), build_platform="linux/amd64")
    second = res.stage("second")
    workdir = next(i for i in second.instructions if isinstance(i, Workdir))
    user = next(i for i in second.instructions if isinstance(i, User))
    label = next(i for i in second.instructions if isinstance(i, Label))
    volume = next(i for i in second.instructions if isinstance(i, Volume))
    expose = next(i for i in second.instructions if isinstance(i, Expose))
    assert workdir.path == "/w/1.2"
    assert user.user == "nobody"
    assert (label.pairs[0].key, label.pairs[0].value) == ("k-1.2", "v 1.2")
    assert volume.paths == ("/data/1.2",)
    assert expose.ports == ("80/tcp",)  # PORTS was never declared with ARG


def test_expose_splits_an_expanded_word() -> None:
    df = parse("FROM a\nARG PORTS\nEXPOSE $PORTS\n")
    res = resolve(df, build_args={"PORTS": "80 443/udp"}, build_platform="linux/amd64")
    assert res.stages[0].instructions[-1] == Expose(ports=("80", "443/udp"))


def test_predefined_platform_args() -> None:
    args = predefined_args(target_platform="linux/arm/v7", build_platform="linux/amd64")
    assert args["TARGETPLATFORM"] == "linux/arm/v7"
    assert (args["TARGETOS"], args["TARGETARCH"], args["TARGETVARIANT"]) == ("linux", "arm", "v7")
    assert (args["BUILDOS"], args["BUILDARCH"], args["BUILDVARIANT"]) == ("linux", "amd64", "")
    df = parse("FROM --platform=$TARGETPLATFORM img-$TARGETARCH\nARG BUILDARCH\nENV X=$BUILDARCH\n")
    res = resolve(df, target_platform="linux/arm/v7", build_platform="linux/amd64")
    assert (res.stages[0].base, res.stages[0].platform) == ("img-arm", "linux/arm/v7")
    assert res.stages[0].env["X"] == "amd64"


def test_proxy_args_reach_run_without_an_arg_but_do_not_expand() -> None:
    df = parse("FROM a\nENV P=${HTTP_PROXY:-none}\n")
    res = resolve(df, build_args={"HTTP_PROXY": "http://proxy:3128", "FOO": "x"})
    assert res.stages[0].proxy_env == {"HTTP_PROXY": "http://proxy:3128"}
    assert res.stages[0].env["P"] == "none"


def test_arg_without_value_anywhere_stays_unset() -> None:
    df = parse("FROM a\nARG NOTHING\nENV X=${NOTHING-unset}\n")
    res = resolve(df)
    assert res.stages[0].instructions[0] == Arg(args=(ArgDef("NOTHING", None),))
    assert res.stages[0].env == {"X": "unset"}


def test_run_mount_values_expand_and_onbuild_does_not() -> None:
    df = parse(
        "FROM a\nARG ID=cache1\n"
        "RUN --mount=type=cache,id=$ID,target=/c true\n"
        "ONBUILD RUN echo $ID\n"
    )
    res = resolve(df)
    run = res.stages[0].instructions[1]
    assert isinstance(run, Run) and run.mounts[0].id == "cache1"
    onbuild = res.stages[0].instructions[2]
    assert isinstance(onbuild, Onbuild) and onbuild.instruction == Run(args=("echo $ID",))


def test_unquoted_heredoc_of_copy_expands_quoted_does_not() -> None:
    df = parse('FROM a\nARG N=7\nCOPY <<EOF <<"RAW" /dst/\nn=$N "q"\nEOF\nn=$N\nRAW\n')
    copy = resolve(df).stages[0].instructions[1]
    assert isinstance(copy, Copy)
    assert [h.content for h in copy.heredocs] == ['n=7 "q"\n', "n=$N\n"]


def test_copy_from_does_not_expand() -> None:
    df = parse("ARG S=build\nFROM a\nCOPY --from=$S /x /y\n")
    with pytest.raises(InvalidArgument) as err:
        resolve(df)
    assert str(err.value).startswith(
        "Dockerfile:3:1: variable expansion is not supported for --from"
    )


def test_expansion_errors_carry_the_instruction_location() -> None:
    df = parse("FROM a\n\n  WORKDIR ${X:?must be set}\n")
    with pytest.raises(InvalidArgument) as err:
        resolve(df)
    assert str(err.value) == 'Dockerfile:3:3: failed to process "${X:?must be set}": X: must be set'
