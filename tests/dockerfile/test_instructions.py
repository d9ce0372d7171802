"""Typed instructions for the forms the BuildKit corpus lacks, from the Dockerfile
reference (docs.docker.com/reference/dockerfile): heredocs, FROM ... AS, SHELL,
RUN --mount, plus flags, ONBUILD, HEALTHCHECK and the parser's warnings."""

from __future__ import annotations

import pytest

from imageforge.dockerfile import (
    Add,
    Copy,
    Env,
    From,
    Healthcheck,
    Heredoc,
    Mount,
    Onbuild,
    Run,
    Shell,
    dump_ast,
    parse,
    parse_ast,
    to_dockerfile,
)
from imageforge.errors import InvalidArgument


def _one(text: str) -> object:
    return parse("FROM scratch\n" + text).stages[0].instructions[0]


def test_run_heredoc_with_interpreter() -> None:
    df = parse("FROM debian\nRUN <<EOF bash\nset -ex\necho hello\nEOF\nRUN echo after\n")
    run, after = df.stages[0].instructions
    assert run == Run(
        args=("<<EOF bash",), heredocs=(Heredoc("EOF", "set -ex\necho hello\n", True, False),)
    )
    assert (run.location.start_line, run.location.end_line) == (2, 5)
    assert after == Run(args=("echo after",))


def test_several_heredocs_on_one_line_are_read_in_order() -> None:
    text = (
        "FROM a\nRUN <<FILE1 cat > file1 && <<FILE2 cat > file2\n"
        "I am\nfirst\nFILE1\nsecond\nFILE2\n"
    )
    run = parse(text).stages[0].instructions[0]
    assert isinstance(run, Run)
    assert [(h.name, h.content) for h in run.heredocs] == [
        ("FILE1", "I am\nfirst\n"),
        ("FILE2", "second\n"),
    ]


def test_copy_heredoc_with_quoted_delimiter_and_chomp() -> None:
    text = 'FROM a\nCOPY <<-"EOT" /app/script.sh\n\techo "$HOME"\n\tEOT\n'
    copy = parse(text).stages[0].instructions[0]
    assert copy == Copy(
        sources=('<<-"EOT"',),
        dest="/app/script.sh",
        heredocs=(Heredoc("EOT", '\techo "$HOME"\n', expand=False, chomp=True),),
    )


def test_heredoc_is_not_read_for_json_form_or_other_instructions() -> None:
    df = parse('FROM a\nRUN ["cat", "<<EOF"]\nCMD cat <<EOF\nENV A=b\n')
    run, cmd, env = df.stages[0].instructions
    assert isinstance(run, Run) and run.heredocs == () and run.exec_form
    assert cmd == parse("FROM a\nCMD cat <<EOF\n").stages[0].instructions[0]
    assert isinstance(env, Env) and [(p.key, p.value) for p in env.pairs] == [("A", "b")]


def test_unterminated_heredoc_names_its_line() -> None:
    with pytest.raises(InvalidArgument) as err:
        parse_ast("FROM a\n\nRUN <<EOF\necho\n", file="Dockerfile")
    assert str(err.value) == "Dockerfile:3:1: unterminated heredoc EOF"


def test_heredoc_bodies_do_not_appear_in_the_ast_dump() -> None:
    assert dump_ast(parse_ast("FROM a\nRUN <<EOF\nx\nEOF\n")) == '(from "a")\n(run "<<EOF")\n'


def test_from_as_and_platform_make_named_stages() -> None:
    df = parse(
        "ARG GO=1.22\nFROM --platform=$BUILDPLATFORM golang:${GO} AS Build\n"
        "RUN go build\nfrom alpine as final\nCOPY --from=build /out /bin\n"
    )
    assert [a.args[0].key for a in df.meta_args] == ["GO"]
    build, final = df.stages
    assert build.from_ == From(image="golang:${GO}", name="build", platform="$BUILDPLATFORM")
    assert (build.index, final.index, final.name, final.base) == (0, 1, "final", "alpine")
    assert df.stage("BUILD") is build
    assert final.instructions[0] == Copy(sources=("/out",), dest="/bin", from_="build")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("FROM a AS 1x\n", 'invalid name for build stage: "1x", name can\'t start with a number'),
        ("FROM a b\n", "FROM requires either one or three arguments"),
        ("RUN x\n", "no build stage in current context"),
    ],
)
def test_bad_stages(text: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        parse(text)
    assert message in str(err.value)


def test_shell_requires_json() -> None:
    assert _one('SHELL ["powershell", "-command"]\n') == Shell(shell=("powershell", "-command"))
    with pytest.raises(InvalidArgument) as err:
        parse("FROM a\nSHELL /bin/bash -c\n")
    assert str(err.value) == "Dockerfile:2:1: SHELL requires the arguments to be in JSON form"


def test_run_mount_network_security() -> None:
    run = _one(
        "RUN --mount=type=cache,target=/root/.cache/go-build,sharing=locked "
        "--mount=type=secret,id=aws,target=/root/.aws/credentials,required "
        "--mount=type=bind,from=build,source=/out,target=/x,rw "
        "--network=none --security=insecure go build\n"
    )
    assert isinstance(run, Run)
    assert run.mounts == (
        Mount(raw="", type="cache", target="/root/.cache/go-build", sharing="locked"),
        Mount(raw="", type="secret", id="aws", target="/root/.aws/credentials", required=True),
        Mount(raw="", type="bind", from_="build", source="/out", target="/x", readonly=False),
    )
    assert (run.network, run.security, run.args) == ("none", "insecure", ("go build",))


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        ("--mount=type=nfs,target=/x", "unsupported mount type 'nfs'"),
        ("--mount=type=bind,size=1m,target=/x", "unexpected key 'size' for mount type 'bind'"),
        ("--mount=target=/x,colour=red", "unexpected key 'colour' in 'colour=red'"),
        ("--network=bridge", 'invalid network mode "bridge"'),
        ("--security=loose", 'security "loose" is not valid'),
        ("--tty", "unknown flag: --tty"),
    ],
)
def test_bad_run_flags(flag: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        parse(f"FROM a\nRUN {flag} true\n")
    assert str(err.value) == f"Dockerfile:2:1: {message}"


def test_copy_and_add_flags() -> None:
    copy = _one(
        "COPY --from=build --chown=1000:1000 --chmod=755 --link --parents "
        "--exclude=*.md --exclude=*.txt a b /dst/\n"
    )
    assert copy == Copy(
        sources=("a", "b"),
        dest="/dst/",
        from_="build",
        chown="1000:1000",
        chmod="755",
        link=True,
        parents=True,
        exclude=("*.md", "*.txt"),
    )
    add = _one(
        "ADD --checksum=sha256:abc --keep-git-dir=true --unpack=false "
        "https://example.com/x.git /src\n"
    )
    assert add == Add(
        sources=("https://example.com/x.git",),
        dest="/src",
        checksum="sha256:abc",
        keep_git_dir=True,
        unpack=False,
    )
    with pytest.raises(InvalidArgument, match="unknown flag: --from"):
        parse("FROM a\nADD --from=x a b\n")
    with pytest.raises(InvalidArgument, match="expecting boolean value for flag --link, not: yes"):
        parse("FROM a\nCOPY --link=yes a b\n")
    with pytest.raises(InvalidArgument, match="COPY requires at least two arguments"):
        parse("FROM a\nCOPY a\n")


def test_healthcheck_forms_and_flags() -> None:
    hc = _one(
        "HEALTHCHECK --interval=30s --timeout=3s --start-period=5s --start-interval=1s "
        "--retries=3 CMD curl -f http://localhost/\n"
    )
    assert hc == Healthcheck(
        test=("CMD-SHELL", "curl -f http://localhost/"),
        interval="30s",
        timeout="3s",
        start_period="5s",
        start_interval="1s",
        retries=3,
    )
    assert _one('HEALTHCHECK CMD ["true"]\n') == Healthcheck(test=("CMD", "true"))
    assert _one("healthcheck none\n") == Healthcheck(test=("NONE",))
    with pytest.raises(InvalidArgument, match="cannot be less than 1ms"):
        parse("FROM a\nHEALTHCHECK --interval=1us CMD true\n")
    with pytest.raises(InvalidArgument, match='Unknown type "CONNECT" in HEALTHCHECK'):
        parse("FROM a\nHEALTHCHECK CONNECT TCP 7000\n")


def test_onbuild_wraps_a_typed_instruction() -> None:
    ob = _one("ONBUILD COPY --chown=app . /app\n")
    assert ob == Onbuild(instruction=Copy(sources=(".",), dest="/app", chown="app"))
    with pytest.raises(InvalidArgument, match="Chaining ONBUILD via `ONBUILD ONBUILD` isn't"):
        parse("FROM a\nONBUILD ONBUILD RUN x\n")
    with pytest.raises(InvalidArgument, match="FROM isn't allowed as an ONBUILD trigger"):
        parse("FROM a\nONBUILD FROM b\n")


def test_keywords_are_case_insensitive_and_locations_have_columns() -> None:
    df = parse("from a\n   rUn   echo hi\n\tEnV A=1\n")
    run, env = df.stages[0].instructions
    assert run == Run(args=("echo hi",))
    assert (run.location.start_line, run.location.column) == (2, 4)
    assert (env.location.start_line, env.location.column) == (3, 2)


def test_warnings_are_returned_as_data() -> None:
    df = parse("FROM a\nMAINTAINER me\nENV A b\nRUN echo \\\n\n  hi\n")
    assert [(w.code, w.line) for w in df.warnings] == [
        ("NoEmptyContinuation", 6),
        ("MaintainerDeprecated", 2),
        ("LegacyKeyValueFormat", 3),
    ]
    assert df.warnings[0].message == "Empty continuation line found in: RUN echo   hi"


def test_directives_only_at_the_top() -> None:
    df = parse("# syntax=docker/dockerfile:1\n# check=skip=all\n# escape=`\nFROM a\nRUN a `\n  b\n")
    assert [(d.name, d.value) for d in df.directives] == [
        ("syntax", "docker/dockerfile:1"),
        ("check", "skip=all"),
        ("escape", "`"),
    ]
    assert df.stages[0].instructions[0] == Run(args=("a   b",))
    late = parse("FROM a\n# escape=`\nRUN a \\\n  b\n")
    assert late.directives == () and late.escape == "\\"
    with pytest.raises(InvalidArgument) as err:
        parse("# escape=x\nFROM a\n")
    assert str(err.value) == "Dockerfile:1:1: invalid escape token 'x' does not match ` or \\"


def test_round_trip_of_the_reference_forms() -> None:
    text = (
        "# escape=`\nARG V=1\nFROM --platform=linux/amd64 img:${V} AS b\n"
        'RUN --mount=type=cache,target="/a b" <<EOF sh\necho "$V" `\nEOF\n'
        'COPY --chmod=644 --exclude="*.md" ["a b", "c"] /d/\n'
        'ENV X 1 2\nLABEL a=b c="d e"\nEXPOSE 80 443/udp\nVOLUME ["/v w"]\n'
        'HEALTHCHECK --retries=2 CMD ["true"]\nONBUILD RUN -- --weird\nSTOPSIGNAL SIGTERM\n'
        'USER app\nWORKDIR /w\nCMD ["x"]\nENTRYPOINT run me\nSHELL ["sh", "-c"]\n'
    )
    df = parse(text)
    again = parse(to_dockerfile(df))
    assert again.instructions == df.instructions
    assert again.escape == "`"
