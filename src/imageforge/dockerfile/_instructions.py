"""Typed instructions: one frozen dataclass per Dockerfile instruction.

Values are as written (not yet expanded). ``location`` and ``source`` do not take part
in equality, so an instruction printed back to text and parsed again compares equal.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from imageforge.dockerfile._ast import Heredoc, SourceRange

__all__ = [
    "Add",
    "Arg",
    "ArgDef",
    "Cmd",
    "Copy",
    "Entrypoint",
    "Env",
    "Expose",
    "From",
    "Healthcheck",
    "Instruction",
    "KeyValue",
    "Label",
    "Maintainer",
    "Mount",
    "Onbuild",
    "Run",
    "Shell",
    "StopSignal",
    "User",
    "Volume",
    "Workdir",
]

_NOWHERE = SourceRange(0, 0, 0)


@dataclass(frozen=True, kw_only=True)
class Instruction:
    """Common part: the keyword, where it is, and the logical line it came from."""

    keyword: ClassVar[str] = ""
    location: SourceRange = field(default=_NOWHERE, compare=False)
    source: str = field(default="", compare=False)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"instruction": self.keyword}
        for f in fields(self):
            if f.name == "source":
                continue
            data[f.name.rstrip("_")] = _jsonable(getattr(self, f.name))
        return data


def _jsonable(value: Any) -> Any:
    if isinstance(value, Instruction | SourceRange):
        return value.to_json()
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, Heredoc | KeyValue | ArgDef | Mount):
        return {f.name.rstrip("_"): _jsonable(getattr(value, f.name)) for f in fields(value)}
    return value


@dataclass(frozen=True)
class KeyValue:
    """One ``key=value`` of ENV or LABEL; ``legacy`` is the ``KEY value`` form."""

    key: str
    value: str
    legacy: bool = False


@dataclass(frozen=True)
class ArgDef:
    """One name of an ARG, with its default (None: no default)."""

    key: str
    value: str | None = None


@dataclass(frozen=True)
class Mount:
    """One ``RUN --mount=...``. ``raw`` is the option as written; the other fields are
    its parsed keys (values unexpanded). ``readonly`` None means the type's default."""

    raw: str = field(compare=False)
    type: str = "bind"
    target: str | None = None
    source: str | None = None
    from_: str | None = None
    id: str | None = None
    sharing: str | None = None
    readonly: bool | None = None
    required: bool | None = None
    mode: str | None = None
    uid: str | None = None
    gid: str | None = None
    size: str | None = None
    env: str | None = None


@dataclass(frozen=True, kw_only=True)
class From(Instruction):
    keyword: ClassVar[str] = "FROM"
    image: str
    name: str | None = None
    platform: str | None = None


@dataclass(frozen=True, kw_only=True)
class _CommandLine(Instruction):
    """RUN, CMD, ENTRYPOINT: ``args`` is the exec-form list when ``exec_form``, else
    one string, the shell-form command line."""

    args: tuple[str, ...] = ()
    exec_form: bool = False


@dataclass(frozen=True, kw_only=True)
class Run(_CommandLine):
    keyword: ClassVar[str] = "RUN"
    mounts: tuple[Mount, ...] = ()
    network: str | None = None
    security: str | None = None
    devices: tuple[str, ...] = ()
    heredocs: tuple[Heredoc, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Cmd(_CommandLine):
    keyword: ClassVar[str] = "CMD"


@dataclass(frozen=True, kw_only=True)
class Entrypoint(_CommandLine):
    keyword: ClassVar[str] = "ENTRYPOINT"


@dataclass(frozen=True, kw_only=True)
class Shell(Instruction):
    keyword: ClassVar[str] = "SHELL"
    shell: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class _SourcesAndDest(Instruction):
    """COPY and ADD: ``sources`` are paths (or heredoc names, see ``heredocs``)."""

    sources: tuple[str, ...]
    dest: str
    heredocs: tuple[Heredoc, ...] = ()
    chown: str | None = None
    chmod: str | None = None
    link: bool = False
    exclude: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Copy(_SourcesAndDest):
    keyword: ClassVar[str] = "COPY"
    from_: str | None = None
    parents: bool = False


@dataclass(frozen=True, kw_only=True)
class Add(_SourcesAndDest):
    keyword: ClassVar[str] = "ADD"
    keep_git_dir: bool | None = None
    checksum: str | None = None
    unpack: bool | None = None


@dataclass(frozen=True, kw_only=True)
class Env(Instruction):
    keyword: ClassVar[str] = "ENV"
    pairs: tuple[KeyValue, ...]


@dataclass(frozen=True, kw_only=True)
class Label(Instruction):
    keyword: ClassVar[str] = "LABEL"
    pairs: tuple[KeyValue, ...]


@dataclass(frozen=True, kw_only=True)
class Arg(Instruction):
    keyword: ClassVar[str] = "ARG"
    args: tuple[ArgDef, ...]


@dataclass(frozen=True, kw_only=True)
class Expose(Instruction):
    """Ports as written, sorted as BuildKit sorts them."""

    keyword: ClassVar[str] = "EXPOSE"
    ports: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class User(Instruction):
    keyword: ClassVar[str] = "USER"
    user: str


@dataclass(frozen=True, kw_only=True)
class Workdir(Instruction):
    keyword: ClassVar[str] = "WORKDIR"
    path: str


@dataclass(frozen=True, kw_only=True)
class Volume(Instruction):
    keyword: ClassVar[str] = "VOLUME"
    paths: tuple[str, ...]
    exec_form: bool = False


@dataclass(frozen=True, kw_only=True)
class StopSignal(Instruction):
    keyword: ClassVar[str] = "STOPSIGNAL"
    signal: str


@dataclass(frozen=True, kw_only=True)
class Maintainer(Instruction):
    """Deprecated by Docker (a warning is returned); use a LABEL."""

    keyword: ClassVar[str] = "MAINTAINER"
    maintainer: str


@dataclass(frozen=True, kw_only=True)
class Healthcheck(Instruction):
    """``test`` is Docker's form: ``("NONE",)``, ``("CMD", exec...)`` or
    ``("CMD-SHELL", command)``. Durations are kept as written (Go duration syntax)."""

    keyword: ClassVar[str] = "HEALTHCHECK"
    test: tuple[str, ...]
    interval: str | None = None
    timeout: str | None = None
    start_period: str | None = None
    start_interval: str | None = None
    retries: int | None = None


@dataclass(frozen=True, kw_only=True)
class Onbuild(Instruction):
    keyword: ClassVar[str] = "ONBUILD"
    instruction: Instruction
