"""The plan of a build, worked out before anything runs: pure (no runtime, no store, no
filesystem; the import contract in ``pyproject.toml`` keeps it so).

From a parsed Dockerfile and the build's arguments it gives :class:`BuildPlan`: every
stage with its words expanded and its ARGs scoped as BuildKit scopes them
(``dockerfile.resolve``), the stage ``--target`` names, the stages that target needs (a
stage nothing needs is never run) and which earlier stages each one waits for (``FROM
<stage>``, ``COPY --from=<stage>``, ``RUN --mount=from=<stage>``), the warnings, and the
network refusals a Dockerfile earns before its first step. Then, per step, the pieces of
the build cache's keys: :func:`step_key` chains them, :class:`RunInputs` is what a RUN
step's key is made of beside its instruction, :func:`final_key` a whole image's. A base
image's ONBUILD triggers become instructions here too (:func:`onbuild_triggers`).

The executor (``_execution``) carries the plan out.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from imageforge.builder._network import step_network
from imageforge.dockerfile import (
    PROXY_ARGS,
    Arg,
    Copy,
    Dockerfile,
    Instruction,
    Onbuild,
    Resolution,
    ResolvedStage,
    Run,
    parse,
    predefined_args,
    resolve,
)
from imageforge.errors import InvalidArgument
from imageforge.oci import canonical_json

__all__ = [
    "BaseEnv",
    "BuildPlan",
    "PlanOptions",
    "RunInputs",
    "final_key",
    "needed_stages",
    "onbuild_triggers",
    "plan_build",
    "stage_deps",
    "stage_index",
    "step_key",
    "step_position",
    "target_stage",
    "unused_build_args",
]

BaseEnv = Callable[[str, "str | None"], Mapping[str, str]]
"""(base image, platform) -> its config's environment, which a stage's words expand with."""


class PlanOptions(Protocol):
    """What of a build's options its plan depends on (``BuildOptions`` has them):
    ``--build-arg``s, ``--target``, and ``--network`` and ``--allow``, which decide what
    a RUN step may ask for."""

    @property
    def build_args(self) -> Mapping[str, str]: ...

    @property
    def target(self) -> str | None: ...

    @property
    def network(self) -> str: ...

    @property
    def allow(self) -> Collection[str]: ...


def step_key(parent: str, *parts: str) -> str:
    """The cache key of what follows ``parent`` and is made of ``parts``."""
    h = hashlib.sha256(parent.encode())
    for part in parts:
        h.update(b"\0")
        h.update(part.encode())
    return h.hexdigest()


def final_key(key: str, labels: Mapping[str, str], source_date_epoch: int | None) -> str:
    """The key of a whole image: its last step's, the ``--label``s and the epoch."""
    return step_key(key, canonical_json(dict(labels)).decode(), str(source_date_epoch))


def step_position(dockerfile: str, stage: int, number: int) -> str:
    """Where a step is (its Dockerfile's real path, stage and number): the build cache
    remembers what a step saw there, to explain the next miss."""
    return step_key(dockerfile, str(stage), str(number))


@dataclass(frozen=True)
class RunInputs:
    """What a RUN step's cache key is made of beside its instruction: what the command
    sees (environment, shell, user, working directory), its network and seccomp choice
    (a step run with another may have written something else), and its mounts (a bind
    mount's content; never a secret's or a cache's)."""

    env: Mapping[str, str]
    shell: Sequence[str]
    user: str
    cwd: str
    network: str
    security: str
    mounts: Sequence[str]

    def _fields(self) -> dict[str, object]:
        return {
            "env": dict(self.env),
            "shell": list(self.shell),
            "user": self.user,
            "cwd": self.cwd,
            "network": self.network,
            "security": self.security,
            "mounts": list(self.mounts),
        }

    def key(self) -> str:
        """The part of the step's key they make."""
        return canonical_json(self._fields()).decode()

    def seen(self) -> dict[str, str]:
        """The same as names and values, to compare with the last build's on a miss."""
        out = {f"env {k}": v for k, v in self.env.items()}
        out.update({k: str(v) for k, v in self._fields().items() if k != "env"})
        return out


def stage_index(resolution: Resolution, name: str, before: int) -> int | None:
    """The stage ``name`` refers to (its AS name or its number), if an earlier one."""
    for stage in resolution.stages[:before]:
        if stage.name is not None and stage.name == name.lower():
            return stage.index
    if name.isdigit() and int(name) < before:
        return int(name)
    return None


def target_stage(resolution: Resolution, target: str | None) -> int:
    """The stage ``--target`` names (the last one without it)."""
    if not target:
        return len(resolution.stages) - 1
    found = stage_index(resolution, target, len(resolution.stages))
    if found is None:
        names = [s.name for s in resolution.stages if s.name]
        raise InvalidArgument(
            f"--target {target!r}: no such stage",
            hint=f"stages: {', '.join(names) or 'none is named (use FROM ... AS name)'}",
        )
    return found


def stage_deps(resolution: Resolution, index: int) -> tuple[int, ...]:
    """The earlier stages stage ``index`` uses: ``FROM <stage>``, ``COPY --from=<stage>``,
    ``RUN --mount=...,from=<stage>``."""
    stage = resolution.stages[index]
    refs = [stage.base]
    for instr in stage.instructions:
        if isinstance(instr, Copy) and instr.from_:
            refs.append(instr.from_)
        elif isinstance(instr, Run):
            refs.extend(m.from_ for m in instr.mounts if m.from_)
    found = (stage_index(resolution, ref, index) for ref in refs)
    return tuple(sorted({d for d in found if d is not None}))


def needed_stages(resolution: Resolution, target: int) -> tuple[int, ...]:
    """The stages ``target`` needs, in order: a stage nothing needs is never run."""
    seen: set[int] = set()
    todo = [target]
    while todo:
        index = todo.pop()
        if index not in seen:
            seen.add(index)
            todo.extend(stage_deps(resolution, index))
    return tuple(sorted(seen))


def unused_build_args(df: Dockerfile, given: Collection[str]) -> set[str]:
    """The ``--build-arg``s no ARG declares (nor BuildKit predefines)."""
    declared = {d.key for a in df.meta_args for d in a.args}
    for stage in df.stages:
        for instr in stage.instructions:
            if isinstance(instr, Arg):
                declared.update(d.key for d in instr.args)
    builtin = set(predefined_args()) | set(PROXY_ARGS) | {p.lower() for p in PROXY_ARGS}
    return {k for k in given if k not in declared and k not in builtin}


def onbuild_triggers(
    triggers: Sequence[str], stage: ResolvedStage, build_args: Mapping[str, str]
) -> list[Instruction]:
    """A base image's ONBUILD triggers as instructions, run before the stage's own (then
    dropped from the config, as Docker does). FROM, MAINTAINER and ONBUILD are refused
    as triggers, as Docker refuses them."""
    if not triggers:
        return []
    text = "FROM scratch\n" + "".join(f"{t}\n" for t in triggers)
    df = parse(text.encode())
    refused = ["FROM"] if len(df.stages) > 1 else []  # a FROM trigger starts a stage
    refused += [
        instr.keyword
        for instr in df.stages[0].instructions
        if isinstance(instr, Onbuild) or instr.keyword == "MAINTAINER"
    ]
    if refused:
        raise InvalidArgument(
            f"base image of stage {stage.index} has an ONBUILD trigger "
            f"{refused[0]} that Docker does not allow",
        )
    return list(resolve(df, build_args=build_args).stages[0].instructions)


@dataclass(frozen=True)
class BuildPlan:
    """One build worked out: ``stages`` are the ones to run, in order, ``deps`` the
    earlier stages each waits for, ``target`` the stage whose image is the result."""

    dockerfile: Dockerfile
    resolution: Resolution
    build_args: Mapping[str, str]
    target: int
    stages: tuple[int, ...]
    deps: Mapping[int, tuple[int, ...]]
    warnings: tuple[str, ...]

    def stage(self, index: int) -> ResolvedStage:
        return self.resolution.stages[index]

    def earlier_stage(self, name: str, before: int) -> int | None:
        """The stage ``name`` means in stage ``before`` (None: an image)."""
        return stage_index(self.resolution, name, before)


def plan_build(
    df: Dockerfile,
    options: PlanOptions,
    *,
    base_env: BaseEnv | None = None,
    warn: Callable[[str], None] | None = None,
) -> BuildPlan:
    """Plan the build of ``df``. A RUN step of a needed stage that asks for more network
    than ``options`` allow is refused here, before any step runs. ``base_env`` gives a
    base image's environment (see ``dockerfile.resolve``); ``warn`` hears each warning
    as soon as it is known (before a refusal)."""
    if not df.stages:
        raise InvalidArgument(f"{df.file}: no FROM instruction, nothing to build")
    resolution = resolve(df, build_args=options.build_args, base_env=base_env)
    warnings = [w.message for w in df.warnings]
    unused = unused_build_args(df, options.build_args)
    if unused:
        warnings.append(f"one or more build-args {sorted(unused)} were not consumed by any ARG")
    if warn is not None:
        for warning in warnings:
            warn(warning)
    chosen = target_stage(resolution, options.target)
    needed = needed_stages(resolution, chosen)
    for index in needed:
        for instr in resolution.stages[index].instructions:
            if isinstance(instr, Run):
                where = f"{df.file}:{instr.location.start_line}"
                step_network(instr.network, options.network, options.allow, where)
    return BuildPlan(
        dockerfile=df,
        resolution=resolution,
        build_args=dict(options.build_args),
        target=chosen,
        stages=needed,
        deps={index: stage_deps(resolution, index) for index in needed},
        warnings=tuple(warnings),
    )
