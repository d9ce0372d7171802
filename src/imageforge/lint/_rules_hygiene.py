"""General Dockerfile hygiene (IF7xx): the checks hadolint users rely on that the
guide's sections do not cover (its DL rules, mapped in docs/hadolint-mapping.md)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from imageforge.dockerfile import (
    Cmd,
    Copy,
    Entrypoint,
    Expose,
    Instruction,
    Label,
    Maintainer,
    Run,
    Stage,
    Workdir,
)
from imageforge.lint._facts import APT_SIMULATE, run_commands
from imageforge.lint._fixes import fix_exec_form
from imageforge.lint._model import Hit, LintInput, Rule, hit
from imageforge.lint._shell import Command, commands, substitutions
from imageforge.policy import LintPolicy
from imageforge.report import Severity

__all__ = ["HYGIENE_RULES"]


def _repeated(lint: LintInput, kind: type[Cmd] | type[Entrypoint]) -> Iterator[Hit]:
    for stage in lint.dockerfile.stages:
        found = [i for i in stage.instructions if isinstance(i, kind)]
        for extra in found[:-1]:
            yield hit(extra, f"a later {kind.keyword} in this stage replaces this one")


def _multiple_cmd(lint: LintInput) -> Iterator[Hit]:
    yield from _repeated(lint, Cmd)


def _multiple_entrypoint(lint: LintInput) -> Iterator[Hit]:
    yield from _repeated(lint, Entrypoint)


_WINDOWS_ABS = re.compile(r"^[A-Za-z]:[\\/]")


def _relative_workdir(lint: LintInput) -> Iterator[Hit]:
    for stage in lint.dockerfile.stages:
        for instr in stage.instructions:
            if not isinstance(instr, Workdir):
                continue
            path = instr.path.strip("\"'")
            if path.startswith(("/", "$")) or _WINDOWS_ABS.match(path):
                continue
            yield hit(instr, f"WORKDIR {instr.path} is relative")


def _runs(lint: LintInput) -> Iterator[Run]:
    for stage in lint.dockerfile.stages:
        for instr in stage.instructions:
            if isinstance(instr, Run):
                yield instr


def _cd(lint: LintInput) -> Iterator[Hit]:
    for run in _runs(lint):
        if any(c.program == "cd" for c in run_commands(run)):
            yield hit(run, "RUN changes directory with cd")


_YES = re.compile(r"^-[a-zA-Z]*y[a-zA-Z]*$")


def _apt_yes(lint: LintInput) -> Iterator[Hit]:
    for run in _runs(lint):
        for c in run_commands(run):
            if c.program != "apt-get" or c.args_after("apt-get", "install") is None:
                continue
            if c.has(*APT_SIMULATE):
                continue  # a simulation installs nothing and asks nothing
            words = c.words
            yes = any(
                _YES.match(w) or w in ("--yes", "--assume-yes", "-qq", "-q=2", "--quiet=2")
                for w in words
            )
            if not yes:
                yield hit(run, "apt-get install without -y waits for an answer")


def _useradd(lint: LintInput) -> Iterator[Hit]:
    for run in _runs(lint):
        for c in run_commands(run):
            if c.program != "useradd" or c.has("-l", "--no-log-init"):
                continue
            words = list(c.words)
            uid = None
            for k, w in enumerate(words):
                if w in ("-u", "--uid") and k + 1 < len(words):
                    uid = words[k + 1]
                elif w.startswith("--uid="):
                    uid = w.split("=", 1)[1]
                elif w.startswith("-u") and len(w) > 2 and w[2:].isdigit():
                    uid = w[2:]
            if uid is not None and uid.isdigit() and len(uid) > 5:
                yield hit(run, f"useradd -u {uid} without -l writes a sparse lastlog")


def _shell_form(lint: LintInput) -> Iterator[Hit]:
    for stage in lint.dockerfile.stages:
        for instr in stage.instructions:
            if isinstance(instr, Cmd | Entrypoint) and not instr.exec_form and instr.args:
                yield hit(instr, f"{instr.keyword} in shell form")


def _port_ok(port: str) -> bool:
    spec = port.split("/", 1)[0]
    if "$" in spec:
        return True
    parts = spec.split("-")
    if len(parts) > 2 or not all(p.isdigit() for p in parts):
        return False
    return all(0 <= int(p) <= 65535 for p in parts)


def _expose(lint: LintInput) -> Iterator[Hit]:
    for stage in lint.dockerfile.stages:
        for instr in stage.instructions:
            if isinstance(instr, Expose):
                for port in instr.ports:
                    if not _port_ok(port):
                        yield hit(instr, f"EXPOSE {port} is not a port (0-65535)")


def _copy_self(lint: LintInput) -> Iterator[Hit]:
    for stage in lint.dockerfile.stages:
        if not stage.name:
            continue
        for instr in stage.instructions:
            if isinstance(instr, Copy) and instr.from_ and instr.from_.lower() == stage.name:
                yield hit(instr, f"COPY --from={instr.from_} names its own stage")


def _real_pipe(cmds: tuple[Command, ...], k: int) -> bool:
    """``cmds[k]`` is piped into the next command, not a ``case`` pattern's ``a|b)``."""
    if cmds[k].then != "|":
        return False
    after = cmds[k + 1] if k + 1 < len(cmds) else None
    return not (after is not None and after.then == ")" and len(after.words) == 1)


def _pipes(cmds: tuple[Command, ...]) -> bool:
    """A real pipe among ``cmds`` or inside one of their ``$(...)`` substitutions (with
    pipefail set, a substitution's failing pipe fails the command, as ShellCheck's
    parser, hence hadolint, sees it)."""
    if any(_real_pipe(cmds, k) for k in range(len(cmds))):
        return True
    for cmd in cmds:
        for word in cmd.words:
            for inner in substitutions(word):
                subs = tuple(commands(inner))
                if any(_real_pipe(subs, k) for k in range(len(subs))):
                    return True
    return False


_POSIX = ("sh", "bash", "zsh", "ash", "dash", "ksh", "mksh")


def _pipefail(lint: LintInput) -> Iterator[Hit]:
    for stage in lint.dockerfile.stages:
        for instr in stage.instructions:
            if not isinstance(instr, Run) or instr.exec_form:
                continue
            # SHELL or a '# hadolint shell=' comment: pipefail set, or not a POSIX shell.
            shell = lint.shell_of(stage, instr)
            prog = shell[0].rsplit("/", 1)[-1] if shell else ""
            if prog not in _POSIX or "pipefail" in " ".join(shell):
                continue
            if _pipes(run_commands(instr)):
                if "pipefail" in " ".join(instr.args):
                    continue
                yield hit(instr, "a pipe without pipefail hides a failing command")


_CLOSERS = {"fi", "done", "}", "esac", ";;"}


def _command_count(run: Run) -> int:
    return sum(1 for c in run_commands(run) if c.words and c.words[0] not in _CLOSERS)


def _run_flags(run: Run) -> tuple[object, ...]:
    return (run.mounts, run.network, run.security, run.devices)


def _consecutive_runs(lint: LintInput) -> Iterator[Hit]:
    # A RUN of one command right after a RUN of one command with the same flags (a
    # chain split across RUNs is taken as deliberate, as hadolint 2.15 does); comments
    # do not separate them. A RUN that is reported does not become the one to compare.
    for stage in lint.dockerfile.stages:
        previous: tuple[tuple[object, ...], int] | None = None
        for instr in stage.instructions:
            if not isinstance(instr, Run):
                previous = None
                continue
            current = (_run_flags(instr), _command_count(instr))
            if previous is not None and previous[0] == current[0]:
                if current[1] <= 1 and previous[1] <= 1:
                    yield hit(instr, "this RUN follows another RUN")
                    continue
            previous = current


def _extra_labels(lint: LintInput) -> Iterator[Hit]:
    schema = set(lint.policy.required_labels)
    if not lint.policy.strict_labels or not schema:
        return
    for stage in lint.dockerfile.stages:
        for instr in stage.instructions:
            if isinstance(instr, Label):
                extra = [kv.key for kv in instr.pairs if kv.key not in schema]
                if extra:
                    yield hit(instr, "not in the label schema: " + ", ".join(extra))


_WIN_ABS = re.compile(r"^[A-Za-z]:[\\/]")


def _workdir_set(lint: LintInput, stage: Stage, before: Instruction | None) -> bool:
    """A WORKDIR in ``stage`` before ``before`` (None: anywhere), or in the stage it is
    built FROM."""
    for instr in stage.instructions:
        if instr is before:
            break
        if isinstance(instr, Workdir):
            return True
    parent = lint.base_of(stage).parent
    return parent is not None and parent.index < stage.index and _workdir_set(lint, parent, None)


def _copy_relative(lint: LintInput) -> Iterator[Hit]:
    for stage in lint.dockerfile.stages:
        for instr in stage.instructions:
            if not isinstance(instr, Copy):
                continue
            dest = instr.dest.strip("\"'")
            if dest.startswith(("/", "$")) or _WIN_ABS.match(dest):
                continue
            if not _workdir_set(lint, stage, instr):
                yield hit(instr, f"{instr.dest} is relative and no WORKDIR is set")


def _copy_whole_fs(lint: LintInput) -> Iterator[Hit]:
    by_name = {st.name: st for st in lint.dockerfile.stages if st.name}
    for stage in lint.dockerfile.stages:
        for instr in stage.instructions:
            if not isinstance(instr, Copy) or instr.from_ is None:
                continue
            if [src.strip() for src in instr.sources] != ["/"] or instr.dest.strip() != "/":
                continue
            source = by_name.get(instr.from_.lower())
            if source is None and instr.from_.isdigit():
                k = int(instr.from_)
                source = lint.dockerfile.stages[k] if k < len(lint.dockerfile.stages) else None
            if source is not None and lint.runtime_root(source).scratch:
                continue  # a stage built FROM scratch holds only what it put there
            yield hit(instr, f"the whole filesystem of {instr.from_} over /")


def _maintainer(lint: LintInput) -> Iterator[Hit]:
    for stage in lint.dockerfile.stages:
        for instr in stage.instructions:
            if isinstance(instr, Maintainer):
                yield hit(instr)


HYGIENE_RULES = (
    Rule(
        id="IF701",
        slug="multiple-cmd",
        section="all",
        severity=Severity.WARNING,
        title="A stage has more than one CMD",
        message="Only the last CMD of a stage takes effect.",
        hint="Keep one CMD per stage.",
        why="Docker keeps only the last CMD; earlier ones are dead text that misleads "
        "readers (hadolint DL4003).",
        bad='FROM alpine:3.20\nCMD ["a"]\nCMD ["b"]\n',
        good='FROM alpine:3.20\nCMD ["b"]\n',
        check=_multiple_cmd,
    ),
    Rule(
        id="IF702",
        slug="multiple-entrypoint",
        section="all",
        severity=Severity.ERROR,
        title="A stage has more than one ENTRYPOINT",
        message="Only the last ENTRYPOINT of a stage takes effect.",
        hint="Keep one ENTRYPOINT per stage.",
        why="Docker keeps only the last ENTRYPOINT; earlier ones never run (hadolint DL4004).",
        bad='FROM alpine:3.20\nENTRYPOINT ["a"]\nENTRYPOINT ["b"]\n',
        good='FROM alpine:3.20\nENTRYPOINT ["b"]\n',
        check=_multiple_entrypoint,
    ),
    Rule(
        id="IF703",
        slug="relative-workdir",
        section="all",
        severity=Severity.WARNING,
        title="WORKDIR is relative",
        message="WORKDIR should be an absolute path.",
        hint="Write the whole path (WORKDIR /app).",
        why="A relative WORKDIR depends on every earlier WORKDIR and on the base image's, "
        "so the directory changes when the base does (hadolint DL3000).",
        bad="FROM alpine:3.20\nWORKDIR app\n",
        good="FROM alpine:3.20\nWORKDIR /app\n",
        check=_relative_workdir,
    ),
    Rule(
        id="IF704",
        slug="cd-in-run",
        section="all",
        severity=Severity.WARNING,
        title="RUN uses cd",
        message="Use WORKDIR to change directory.",
        hint="Set WORKDIR before the RUN instead of cd inside it.",
        why="A cd lasts only for its RUN, so the next instruction runs elsewhere than "
        "the reader expects; WORKDIR says it once (hadolint DL3003).",
        bad="FROM alpine:3.20\nRUN cd /tmp && touch x\n",
        good="FROM alpine:3.20\nWORKDIR /tmp\nRUN touch x\n",
        check=_cd,
    ),
    Rule(
        id="IF705",
        slug="apt-install-no-yes",
        section="all",
        severity=Severity.WARNING,
        title="apt-get install without -y",
        message="apt-get install asks for confirmation and the build has no terminal.",
        hint="Add -y (apt-get install -y ...).",
        why="Without -y apt-get waits for a confirmation that never comes in a build "
        "(hadolint DL3014).",
        bad="FROM debian:12-slim\nRUN apt-get install curl\n",
        good="FROM debian:12-slim\nRUN apt-get install -y curl\n",
        check=_apt_yes,
    ),
    Rule(
        id="IF706",
        slug="useradd-no-log-init",
        section="all",
        severity=Severity.WARNING,
        title="useradd with a high UID and without -l",
        message="useradd with a high UID and no -l makes a huge sparse /var/log/lastlog.",
        hint="Add -l (--no-log-init) to useradd.",
        why="useradd records the user in lastlog at offset UID; a large UID makes a "
        "file of gigabytes that tar stores in full (hadolint DL3046).",
        bad="FROM debian:12-slim\nRUN useradd -u 1000000 app\n",
        good="FROM debian:12-slim\nRUN useradd -l -u 1000000 app\n",
        check=_useradd,
    ),
    Rule(
        id="IF707",
        slug="shell-form-cmd",
        section="all",
        severity=Severity.WARNING,
        title="CMD or ENTRYPOINT in shell form",
        message="Use the JSON (exec) form for CMD and ENTRYPOINT.",
        hint='Write CMD ["prog", "arg"]: the program becomes PID 1 and gets signals.',
        why="In shell form /bin/sh -c is PID 1 and does not pass SIGTERM on, so the "
        "container is killed after the stop timeout instead of stopping (hadolint DL3025).",
        bad="FROM alpine:3.20\nCMD echo hi\n",
        good='FROM alpine:3.20\nCMD ["echo", "hi"]\n',
        check=_shell_form,
        fix=fix_exec_form,
    ),
    Rule(
        id="IF708",
        slug="expose-invalid-port",
        section="all",
        severity=Severity.ERROR,
        title="EXPOSE names something that is not a port",
        message="EXPOSE ports are 0 to 65535.",
        hint="Use a port number or range (EXPOSE 8080, EXPOSE 8000-8010/udp).",
        why="A port outside 0-65535 cannot be exposed (hadolint DL3011).",
        bad="FROM alpine:3.20\nEXPOSE 80000\n",
        good="FROM alpine:3.20\nEXPOSE 8080\n",
        check=_expose,
    ),
    Rule(
        id="IF709",
        slug="copy-from-self",
        section="all",
        severity=Severity.ERROR,
        title="COPY --from names its own stage",
        message="COPY --from cannot copy from the stage it is in.",
        hint="Name an earlier stage or an image.",
        why="A stage cannot read its own result while it is built (hadolint DL3023).",
        bad="FROM alpine:3.20 AS app\nCOPY --from=app /a /b\n",
        good="FROM alpine:3.20 AS build\nRUN touch /a\nFROM alpine:3.20 AS app\n"
        "COPY --from=build /a /b\n",
        check=_copy_self,
    ),
    Rule(
        id="IF710",
        slug="pipe-without-pipefail",
        section="all",
        severity=Severity.WARNING,
        title="RUN pipes without pipefail",
        message="Set -o pipefail before a RUN with a pipe.",
        hint='Add SHELL ["/bin/bash", "-o", "pipefail", "-c"] before the RUN.',
        why="A pipe's status is its last command's, so a failing download piped into "
        "another command passes the build (hadolint DL4006).",
        bad="FROM debian:12-slim\nRUN wget -O - https://x | tar xz\n",
        good='FROM debian:12-slim\nSHELL ["/bin/bash", "-o", "pipefail", "-c"]\n'
        "RUN wget -O - https://x | tar xz\n",
        check=_pipefail,
    ),
    Rule(
        id="IF711",
        slug="maintainer",
        section="all",
        severity=Severity.ERROR,
        title="MAINTAINER is deprecated",
        message="MAINTAINER is deprecated.",
        hint='Use LABEL org.opencontainers.image.authors="..." instead.',
        why="MAINTAINER was deprecated in Docker 1.13; a label carries the same "
        "information where tools read it (hadolint DL4000).",
        bad="FROM alpine:3.20\nMAINTAINER me@example.com\n",
        good='FROM alpine:3.20\nLABEL org.opencontainers.image.authors="me@example.com"\n',
        check=_maintainer,
    ),
    Rule(
        id="IF712",
        slug="consecutive-runs",
        section="all",
        severity=Severity.STYLE,
        title="Short RUNs follow one another",
        message="Consecutive RUN instructions could be one.",
        hint="Join them with && into one RUN (unless they change at different rates).",
        why="Each RUN is a layer and a cache entry; two short RUNs in a row usually do one "
        "job (hadolint DL3059). RUNs that already chain commands, and RUNs whose "
        "--mount, --network or --security flags differ, are left alone.",
        bad="FROM alpine:3.20\nRUN mkdir /app\nRUN chown 1000 /app\n",
        good="FROM alpine:3.20\nRUN mkdir /app && chown 1000 /app\n",
        check=_consecutive_runs,
    ),
    Rule(
        id="IF713",
        slug="label-not-in-schema",
        section="all",
        severity=Severity.INFO,
        title="A LABEL key is outside the label schema",
        message="The label is not in the policy's label schema.",
        hint="Use a key of the schema, or add the key to required-labels.",
        why="With strict labels, the required labels are the whole schema: a key outside "
        "it is usually a typo of a required one or a label nobody reads (hadolint "
        "DL3050 with strict-labels). Runs only when strict-labels is on.",
        bad="FROM alpine:3.20\nLABEL org.opencontainers.image.source=https://example.org "
        "maintainer=me\n",
        good="FROM alpine:3.20\nLABEL org.opencontainers.image.source=https://example.org\n",
        check=_extra_labels,
        example_policy=LintPolicy(
            required_labels=("org.opencontainers.image.source",), strict_labels=True
        ),
    ),
    Rule(
        id="IF714",
        slug="copy-relative-no-workdir",
        section="all",
        severity=Severity.WARNING,
        title="COPY to a relative destination without WORKDIR",
        message="The COPY lands relative to a working directory nobody set.",
        hint="Set WORKDIR first, or copy to an absolute path.",
        why="Without WORKDIR a relative destination is relative to the base image's "
        "working directory, which the base can change under you (hadolint DL3045). A "
        "WORKDIR in the stage, or in the stage it is built FROM, counts.",
        bad="FROM alpine:3.20\nCOPY app.py app/\n",
        good="FROM alpine:3.20\nWORKDIR /srv\nCOPY app.py app/\n",
        check=_copy_relative,
    ),
    Rule(
        id="IF715",
        slug="copy-whole-filesystem",
        section="all",
        severity=Severity.WARNING,
        title="COPY --from copies a whole filesystem over /",
        message="Every file of the other stage or image lands in this one.",
        hint="Copy the paths you need (COPY --from=build /out/app /usr/local/bin/).",
        why="Copying / over / brings the other image's package database, shells and "
        "caches along and overwrites this stage's files with no record of which "
        "(hadolint DL3067). A stage built FROM scratch that holds only its output is "
        "not reported; hadolint reports it too.",
        bad="FROM debian:12-slim AS build\nRUN make\nFROM debian:12-slim\nCOPY --from=build / /\n",
        good="FROM debian:12-slim AS build\nRUN make\nFROM debian:12-slim\n"
        "COPY --from=build /src/out/app /usr/local/bin/app\n",
        check=_copy_whole_fs,
    ),
)
