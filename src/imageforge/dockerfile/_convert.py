"""From syntax nodes to typed instructions, with BuildKit's checks of each instruction."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

from imageforge.dockerfile._ast import Node
from imageforge.dockerfile._duration import parse_go_duration
from imageforge.dockerfile._flags import FlagError, FlagSet
from imageforge.dockerfile._instructions import (
    Add,
    Arg,
    ArgDef,
    Cmd,
    Copy,
    Entrypoint,
    Env,
    Expose,
    From,
    Healthcheck,
    Instruction,
    KeyValue,
    Label,
    Maintainer,
    Onbuild,
    Run,
    Shell,
    StopSignal,
    User,
    Volume,
    Workdir,
)
from imageforge.dockerfile._mounts import MountError, parse_mount
from imageforge.dockerfile._parser import parse_heredoc_word
from imageforge.errors import InvalidArgument, Location

__all__ = ["INSTRUCTIONS", "instruction_from_node"]

INSTRUCTIONS = (
    "ADD ARG CMD COPY ENTRYPOINT ENV EXPOSE FROM HEALTHCHECK LABEL MAINTAINER ONBUILD "
    "RUN SHELL STOPSIGNAL USER VOLUME WORKDIR"
).split()
_STAGE_NAME = re.compile(r"[a-z][a-z0-9\-_.]*\Z")


class _Refuse(Exception):
    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


def _flags(node: Node, **declared: str) -> FlagSet:
    fs = FlagSet()
    for name, kind in declared.items():
        name = name.replace("_", "-")
        {"bool": fs.bools, "string": fs.strings, "list": fs.lists}[kind].add(name)
    return fs.parse(node.flags)


def _command_args(node: Node) -> tuple[str, ...]:
    if node.json or not node.args:
        return node.args
    return (" ".join(node.args),)


def _exactly_one(node: Node, what: str) -> str:
    if len(node.args) != 1:
        raise _Refuse(f"{what} requires exactly one argument")
    return node.args[0]


def _at_least_one(node: Node, what: str) -> None:
    if not node.args:
        raise _Refuse(f"{what} requires at least one argument")


def _kvps(node: Node, what: str) -> tuple[KeyValue, ...]:
    _at_least_one(node, what)
    a = node.args
    pairs = []
    for j in range(0, len(a), 3):
        if not a[j]:
            raise _Refuse(f"{what} names can not be blank")
        pairs.append(KeyValue(a[j], a[j + 1], legacy=a[j + 2] == ""))
    return tuple(pairs)


def _from(node: Node) -> From:
    args = node.args
    name = None
    if len(args) == 3 and args[1].lower() == "as":
        name = args[2].lower()
        if not _STAGE_NAME.match(name):
            raise _Refuse(
                f'invalid name for build stage: "{args[2]}", '
                "name can't start with a number or contain symbols"
            )
    elif len(args) != 1:
        raise _Refuse(
            "FROM requires either one or three arguments", "FROM [--platform=P] IMAGE [AS NAME]"
        )
    fl = _flags(node, platform="string")
    return From(image=args[0], name=name, platform=fl.string("platform"))


def _run(node: Node) -> Run:
    fl = _flags(node, mount="list", network="string", security="string", device="list")
    network = fl.string("network")
    if network is not None and network not in ("default", "none", "host"):
        raise _Refuse(f'invalid network mode "{network}"', "use default, none or host")
    security = fl.string("security")
    if security is not None and security not in ("insecure", "sandbox"):
        raise _Refuse(f'security "{security}" is not valid', "use sandbox or insecure")
    try:
        mounts = tuple(parse_mount(m) for m in fl.strings_of("mount"))
    except MountError as exc:
        raise _Refuse(str(exc)) from None
    return Run(
        args=_command_args(node),
        exec_form=node.json,
        mounts=mounts,
        network=network,
        security=security,
        devices=fl.strings_of("device"),
        heredocs=node.heredocs,
    )


def _cmd(node: Node) -> Cmd:
    _flags(node)
    return Cmd(args=_command_args(node), exec_form=node.json)


def _entrypoint(node: Node) -> Entrypoint:
    _flags(node)
    return Entrypoint(args=_command_args(node), exec_form=node.json)


def _shell(node: Node) -> Shell:
    _flags(node)
    _at_least_one(node, "SHELL")
    if not node.json:
        raise _Refuse(
            "SHELL requires the arguments to be in JSON form",
            'write it as a JSON array, e.g. SHELL ["/bin/bash", "-c"]',
        )
    return Shell(shell=node.args)


def _sources(node: Node, what: str) -> tuple[tuple[str, ...], str, tuple[object, ...]]:
    if len(node.args) < 2:
        raise _Refuse(
            f"{what} requires at least two arguments, but only one was provided. "
            "Destination could not be determined"
        )
    *srcs, dest = node.args
    if parse_heredoc_word(dest) is not None:
        raise _Refuse(f"{what} cannot accept a heredoc as a destination")
    return tuple(srcs), dest, node.heredocs


def _copy(node: Node) -> Copy:
    srcs, dest, _ = _sources(node, "COPY")
    fl = FlagSet(
        bools={"link", "parents"},
        strings={"chown", "from", "chmod"},
        lists={"exclude"},
    ).parse(node.flags)
    return Copy(
        sources=srcs,
        dest=dest,
        heredocs=node.heredocs,
        from_=fl.string("from"),
        chown=fl.string("chown"),
        chmod=fl.string("chmod"),
        link=bool(fl.boolean("link")),
        parents=bool(fl.boolean("parents")),
        exclude=fl.strings_of("exclude"),
    )


def _add(node: Node) -> Add:
    srcs, dest, _ = _sources(node, "ADD")
    fl = FlagSet(
        bools={"link", "keep-git-dir", "unpack"},
        strings={"chown", "chmod", "checksum"},
        lists={"exclude"},
    ).parse(node.flags)
    return Add(
        sources=srcs,
        dest=dest,
        heredocs=node.heredocs,
        chown=fl.string("chown"),
        chmod=fl.string("chmod"),
        link=bool(fl.boolean("link")),
        keep_git_dir=fl.boolean("keep-git-dir"),
        checksum=fl.string("checksum"),
        unpack=fl.boolean("unpack"),
        exclude=fl.strings_of("exclude"),
    )


def _env(node: Node) -> Env:
    _flags(node)
    return Env(pairs=_kvps(node, "ENV"))


def _label(node: Node) -> Label:
    _flags(node)
    return Label(pairs=_kvps(node, "LABEL"))


def _arg(node: Node) -> Arg:
    # BuildKit does not check ARG's flags; neither do we.
    _at_least_one(node, "ARG")
    defs = []
    for word in node.args:
        key, has_value, value = word.partition("=")
        if has_value and not key:
            raise _Refuse("ARG names can not be blank")
        defs.append(ArgDef(key, value if has_value else None))
    return Arg(args=tuple(defs))


def _expose(node: Node) -> Expose:
    _at_least_one(node, "EXPOSE")
    _flags(node)
    return Expose(ports=tuple(sorted(node.args)))


def _user(node: Node) -> User:
    user = _exactly_one(node, "USER")
    _flags(node)
    return User(user=user)


def _workdir(node: Node) -> Workdir:
    path = _exactly_one(node, "WORKDIR")
    _flags(node)
    return Workdir(path=path)


def _volume(node: Node) -> Volume:
    _at_least_one(node, "VOLUME")
    _flags(node)
    paths = []
    for v in node.args:
        v = v.strip()
        if not v:
            raise _Refuse("VOLUME specified can not be an empty string")
        paths.append(v)
    return Volume(paths=tuple(paths), exec_form=node.json)


def _stopsignal(node: Node) -> StopSignal:
    return StopSignal(signal=_exactly_one(node, "STOPSIGNAL"))


def _maintainer(node: Node) -> Maintainer:
    name = _exactly_one(node, "MAINTAINER")
    _flags(node)
    return Maintainer(maintainer=name)


def _duration(value: str | None, flag: str) -> str | None:
    if value is None or value == "":
        return None
    try:
        seconds = parse_go_duration(value)
    except ValueError as exc:
        raise _Refuse(str(exc), "use a Go duration such as 30s, 1m30s or 500ms") from None
    if seconds != 0 and seconds < 0.001:
        raise _Refuse(f'Interval "{flag}" cannot be less than 1ms')
    return value


def _healthcheck(node: Node) -> Healthcheck:
    _at_least_one(node, "HEALTHCHECK")
    typ = node.args[0].upper()
    rest = node.args[1:]
    if typ == "NONE":
        if rest:
            raise _Refuse("HEALTHCHECK NONE takes no arguments")
        return Healthcheck(test=("NONE",))
    fl = FlagSet(
        strings={"interval", "timeout", "start-period", "start-interval", "retries"}
    ).parse(node.flags)
    if typ != "CMD":
        raise _Refuse(f'Unknown type "{typ}" in HEALTHCHECK (try CMD)', "use HEALTHCHECK CMD ...")
    cmd = rest if node.json else ((" ".join(rest),) if rest else ())
    if not cmd:
        raise _Refuse("Missing command after HEALTHCHECK CMD")
    test = ("CMD", *cmd) if node.json else ("CMD-SHELL", *cmd)
    retries_text = fl.string("retries")
    retries = None
    if retries_text:
        try:
            retries = int(retries_text, 10)
        except ValueError:
            raise _Refuse(f'strconv.ParseInt: parsing "{retries_text}": invalid syntax') from None
        if retries < 0:
            raise _Refuse(f"--retries cannot be negative ({retries})")
    return Healthcheck(
        test=test,
        interval=_duration(fl.string("interval"), "interval"),
        timeout=_duration(fl.string("timeout"), "timeout"),
        start_period=_duration(fl.string("start-period"), "start-period"),
        start_interval=_duration(fl.string("start-interval"), "start-interval"),
        retries=retries,
    )


def _onbuild(node: Node, file: str) -> Onbuild:
    if node.child is None:
        raise _Refuse("ONBUILD requires at least one argument")
    _flags(node)
    trigger = node.child.keyword.upper()
    if trigger == "ONBUILD":
        raise _Refuse("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
    if trigger in ("MAINTAINER", "FROM"):
        raise _Refuse(f"{trigger} isn't allowed as an ONBUILD trigger")
    return Onbuild(instruction=instruction_from_node(node.child, file))


_CONVERTERS: dict[str, Callable[[Node], Instruction]] = {
    "add": _add,
    "arg": _arg,
    "cmd": _cmd,
    "copy": _copy,
    "entrypoint": _entrypoint,
    "env": _env,
    "expose": _expose,
    "from": _from,
    "healthcheck": _healthcheck,
    "label": _label,
    "maintainer": _maintainer,
    "run": _run,
    "shell": _shell,
    "stopsignal": _stopsignal,
    "user": _user,
    "volume": _volume,
    "workdir": _workdir,
}


def instruction_from_node(node: Node, file: str = "Dockerfile") -> Instruction:
    """The typed instruction for one node; InvalidArgument (with its location) when
    BuildKit would refuse it."""
    loc = node.location
    where = Location(file, loc.start_line, loc.column)
    name = node.name
    try:
        if name == "onbuild":
            made: Instruction = _onbuild(node, file)
        else:
            convert = _CONVERTERS.get(name)
            if convert is None:
                from difflib import get_close_matches  # only for a mistake

                close = get_close_matches(node.keyword.upper(), INSTRUCTIONS, n=1)
                hint = (
                    f"did you mean {close[0]}?"
                    if close
                    else "instructions: " + " ".join(INSTRUCTIONS)
                )
                raise InvalidArgument(
                    f"unknown instruction: {node.keyword}", location=where, hint=hint
                )
            made = convert(node)
    except (_Refuse, FlagError) as exc:
        raise InvalidArgument(str(exc), location=where, hint=exc.hint) from None
    return replace(made, location=loc, source=node.original)
