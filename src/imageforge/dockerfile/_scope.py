"""Build arguments and environment through a Dockerfile, as BuildKit scopes them.

Global ``ARG`` (before the first FROM) are visible only to FROM lines until a stage
re-declares them; inside a stage ``ARG`` and ``ENV`` apply from their line on; an
instruction's words are expanded with the environment as it was *before* that
instruction. Which words expand follows BuildKit's frontend: FROM (image, platform),
ADD/COPY (sources, destination, --chown, --chmod, ADD --checksum, unquoted heredocs),
ENV and LABEL (keys and values), ARG defaults, EXPOSE (split into words), USER,
WORKDIR, VOLUME, STOPSIGNAL and RUN --mount values. RUN, CMD, ENTRYPOINT, SHELL,
HEALTHCHECK, MAINTAINER and ONBUILD are left for the shell or the later build.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from imageforge.dockerfile._dockerfile import Dockerfile
from imageforge.dockerfile._expand import ShellLex
from imageforge.dockerfile._instructions import (
    Add,
    Arg,
    ArgDef,
    Copy,
    Env,
    Expose,
    Instruction,
    KeyValue,
    Label,
    Run,
    StopSignal,
    User,
    Volume,
    Workdir,
)
from imageforge.dockerfile._mounts import MountError, parse_mount
from imageforge.errors import InvalidArgument, Location
from imageforge.oci import Platform, host_platform

__all__ = [
    "PROXY_ARGS",
    "Resolution",
    "ResolvedStage",
    "platform_arg",
    "predefined_args",
    "resolve",
]

PROXY_ARGS = ("HTTP_PROXY", "HTTPS_PROXY", "FTP_PROXY", "NO_PROXY", "ALL_PROXY")


def platform_arg(plat: Platform) -> str:
    """``plat`` as BuildKit spells ``BUILDPLATFORM`` and ``TARGETPLATFORM``: containerd's
    normal form, in which ``arm64`` carries no ``v8`` (``linux/amd64``, ``linux/arm64``,
    ``linux/arm/v7``)."""
    plat = plat.normalized()
    variant = "" if (plat.architecture, plat.variant) == ("arm64", "v8") else plat.variant
    return "/".join(p for p in (plat.os, plat.architecture, variant) if p)


def _build_platform() -> str:
    """This machine as BuildKit spells ``BUILDPLATFORM``."""
    return platform_arg(host_platform())


def _split_platform(spec: str) -> tuple[str, str, str]:
    parts = spec.split("/")
    if len(parts) < 2 or len(parts) > 3 or not all(parts):
        raise InvalidArgument(
            f"invalid platform {spec!r}", hint="write a platform as os/arch[/variant]"
        )
    return parts[0], parts[1], parts[2] if len(parts) == 3 else ""


def predefined_args(
    *, target_platform: str | None = None, build_platform: str | None = None, target: str = ""
) -> dict[str, str]:
    """BuildKit's automatic platform args (``TARGETPLATFORM``, ``BUILDARCH`` ...).

    The build platform defaults to this machine, the target platform to the build one."""
    build = build_platform or _build_platform()
    tgt = target_platform or build
    bos, barch, bvar = _split_platform(build)
    tos, tarch, tvar = _split_platform(tgt)
    return {
        "BUILDPLATFORM": build,
        "BUILDOS": bos,
        "BUILDOSVERSION": "",
        "BUILDARCH": barch,
        "BUILDVARIANT": bvar,
        "TARGETPLATFORM": tgt,
        "TARGETOS": tos,
        "TARGETOSVERSION": "",
        "TARGETARCH": tarch,
        "TARGETVARIANT": tvar,
        "TARGETSTAGE": target or "default",
    }


@dataclass(frozen=True)
class ResolvedStage:
    """A stage with every expandable word expanded.

    ``env`` is the environment after the last instruction (ENV values and declared
    ARGs, plus what a parent stage left); ``args`` the ARGs the stage declared with a
    value; ``proxy_env`` the proxy build args, which RUN sees without an ARG."""

    index: int
    name: str | None
    base: str
    platform: str | None
    instructions: tuple[Instruction, ...]
    env: dict[str, str] = field(default_factory=dict)
    args: dict[str, str] = field(default_factory=dict)
    proxy_env: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Resolution:
    """Global args (after build-arg overrides) and every stage resolved."""

    global_args: dict[str, str]
    stages: tuple[ResolvedStage, ...]

    def stage(self, name: str) -> ResolvedStage:
        for s in self.stages:
            if s.name == name.lower():
                return s
        raise InvalidArgument(f"no build stage named {name!r}")


class _Expander:
    def __init__(self, df: Dockerfile, instr: Instruction, env: Mapping[str, str]) -> None:
        self.lex = ShellLex(df.escape)
        self.env = env
        loc = instr.location
        self.where = Location(df.file, loc.start_line, loc.column)

    def _fail(self, exc: InvalidArgument) -> InvalidArgument:
        return InvalidArgument(exc.message, location=self.where, hint=exc.hint)

    def word(self, text: str) -> str:
        try:
            return self.lex.process_word(text, self.env)
        except InvalidArgument as exc:
            raise self._fail(exc) from None

    def opt(self, text: str | None) -> str | None:
        return None if text is None else self.word(text)

    def words(self, text: str) -> list[str]:
        try:
            return self.lex.process_words(text, self.env)
        except InvalidArgument as exc:
            raise self._fail(exc) from None

    def raw(self, text: str) -> str:
        lex = ShellLex("\\", skip_process_quotes=True)
        try:
            return lex.process_word(text, self.env)
        except InvalidArgument as exc:
            raise self._fail(exc) from None


def _expand_mount(x: _Expander, raw: str) -> str:
    fields = next(csv.reader([raw]))
    out = []
    for item in fields:
        key, has_value, value = item.partition("=")
        out.append(f"{key}={x.word(value)}" if has_value else item)
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow(out)
    return buf.getvalue()


def _expand(df: Dockerfile, instr: Instruction, env: Mapping[str, str]) -> Instruction:
    x = _Expander(df, instr, env)
    if isinstance(instr, Env | Label):
        pairs = tuple(KeyValue(x.word(p.key), x.word(p.value), p.legacy) for p in instr.pairs)
        return replace(instr, pairs=pairs)
    if isinstance(instr, Copy | Add):
        if isinstance(instr, Copy) and instr.from_:
            if ShellLex(df.escape).process_word(instr.from_, {}) != instr.from_:
                raise InvalidArgument(
                    "variable expansion is not supported for --from, define a new stage "
                    "with FROM using ARG from global scope as a workaround",
                    location=x.where,
                )
        docs = tuple(
            replace(d, content=x.raw(d.content)) if d.expand else d for d in instr.heredocs
        )
        changed = replace(
            instr,
            sources=tuple(x.word(s) for s in instr.sources),
            dest=x.word(instr.dest),
            chown=x.opt(instr.chown),
            chmod=x.opt(instr.chmod),
            heredocs=docs,
        )
        if isinstance(changed, Add):
            changed = replace(changed, checksum=x.opt(changed.checksum))
        return changed
    if isinstance(instr, Expose):
        return replace(instr, ports=tuple(w for p in instr.ports for w in x.words(p)))
    if isinstance(instr, User):
        return replace(instr, user=x.word(instr.user))
    if isinstance(instr, Workdir):
        return replace(instr, path=x.word(instr.path))
    if isinstance(instr, Volume):
        return replace(instr, paths=tuple(x.word(p) for p in instr.paths))
    if isinstance(instr, StopSignal):
        return replace(instr, signal=x.word(instr.signal))
    if isinstance(instr, Run) and instr.mounts:
        try:
            mounts = tuple(parse_mount(_expand_mount(x, m.raw)) for m in instr.mounts)
        except MountError as exc:
            raise InvalidArgument(str(exc), location=x.where) from None
        return replace(instr, mounts=mounts)
    return instr


def resolve(
    df: Dockerfile,
    *,
    build_args: Mapping[str, str] | None = None,
    target_platform: str | None = None,
    build_platform: str | None = None,
    target: str = "",
    base_env: Callable[[str, str | None], Mapping[str, str]] | None = None,
) -> Resolution:
    """Expand ``df`` for one build: ``build_args`` are ``--build-arg`` values, the
    platforms feed the predefined ``TARGET*``/``BUILD*`` args (overridable by build
    args). ``base_env(image, platform)`` gives the environment of a stage's base image
    (its config ``Env``), which BuildKit expands a stage's words with (``ENV
    PATH=/app:$PATH``); without it a stage from an image starts empty. Raises
    InvalidArgument (located) when a word cannot be expanded."""
    given = dict(build_args or {})
    global_args = predefined_args(
        target_platform=target_platform, build_platform=build_platform, target=target
    )
    for key in list(global_args):
        if key in given:
            global_args[key] = given[key]
    for arg in df.meta_args:
        # Each value sees the global args as they are when it is read (no copy per ARG:
        # that made a line of many ARGs quadratic).
        x = _Expander(df, arg, global_args)
        for d in arg.args:
            value = given.get(d.key)
            if value is None and d.value is not None:
                value = x.word(d.value)
            if value is not None:
                global_args[d.key] = value
    proxy = {k: v for k, v in given.items() if k.upper() in PROXY_ARGS}
    stages: list[ResolvedStage] = []
    named: dict[str, ResolvedStage] = {}  # the first stage of each name, found in O(1)
    for stage in df.stages:
        fx = _Expander(df, stage.from_, global_args)
        base = fx.word(stage.base)
        plat = fx.opt(stage.platform)
        parent = named.get(base.lower())
        env: dict[str, str] = {}
        if parent is not None:
            env = dict(parent.env)
        elif base_env is not None and base.lower() != "scratch":
            env = dict(base_env(base, plat))
        declared: dict[str, str] = {}
        out: list[Instruction] = []
        for instr in stage.instructions:
            if isinstance(instr, Arg):
                defs = []
                for d in instr.args:
                    val: str | None
                    if d.key in given:
                        val = given[d.key]
                    elif d.value is not None:
                        val = _Expander(df, instr, env).word(d.value)
                    else:
                        val = global_args.get(d.key)
                    if val is not None:
                        env[d.key] = val
                        declared[d.key] = val
                    defs.append(ArgDef(d.key, val))
                out.append(replace(instr, args=tuple(defs)))
                continue
            expanded = _expand(df, instr, env)
            if isinstance(expanded, Env):
                for p in expanded.pairs:
                    env[p.key] = p.value
            out.append(expanded)
        from_ = replace(stage.from_, image=base, platform=plat)
        resolved = ResolvedStage(
            index=stage.index,
            name=stage.name,
            base=from_.image,
            platform=from_.platform,
            instructions=tuple(out),
            env=env,
            args=declared,
            proxy_env=proxy,
        )
        stages.append(resolved)
        if resolved.name is not None:
            named.setdefault(resolved.name, resolved)
    return Resolution(global_args=global_args, stages=tuple(stages))
