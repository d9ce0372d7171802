"""One build stage, instruction by instruction: metadata into the config, filesystem
steps (RUN, COPY, ADD, WORKDIR that creates a directory) over an overlay snapshot of
the layers so far, the upper dir turned into a layer by the Differ, each step cached.

Nothing is named here: the result is an :class:`oci.Image` whose new layers are blobs
in the store; the caller names it (store tag, ``--output``), so a failed build leaves
no image and no tag.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import posixpath
import re
import stat
import tempfile
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imageforge.builder._cache import BuildCache, step_key
from imageforge.builder._cache_io import CacheRecord, export_cache, import_cache
from imageforge.builder._config import (
    DEFAULT_SHELL,
    apply_metadata,
    command_args,
    env_list_set,
    env_map,
    workdir_path,
)
from imageforge.builder._context_view import BIND_OPTIONS, context_view, writable_copy
from imageforge.builder._copy import FileHashes, apply_copy, plan_copy
from imageforge.builder._inroot import mkdirs_in_root, resolve_in_root
from imageforge.builder._model import BaseResolver, BuildOptions, BuildResult, StepReport
from imageforge.builder._network import step_network
from imageforge.dockerfile import (
    PROXY_ARGS,
    Add,
    Arg,
    Copy,
    Dockerfile,
    DockerIgnore,
    Env,
    Heredoc,
    Instruction,
    Maintainer,
    Onbuild,
    Resolution,
    ResolvedStage,
    Run,
    Workdir,
    format_instruction,
    load_dockerignore,
    parse,
    parse_file,
    predefined_args,
    resolve,
)
from imageforge.errors import InvalidArgument, Location, NotFound, StepFailed, Unsupported
from imageforge.layers import BlobImage, BlobLayer, Compression, diff_upper
from imageforge.oci import (
    Descriptor,
    Digest,
    Image,
    ImageConfig,
    Layer,
    canonical_json,
    host_platform,
    mutate,
)
from imageforge.progress import NULL_PROGRESS, ProgressSink
from imageforge.runtime import (
    DEFAULT_PATH,
    ActiveSnapshot,
    Mount,
    OverlaySnapshotter,
    Process,
    Runtime,
    StdIO,
    default_probe_cache,
    etc_mounts,
    forget_runtime_probe,
    resolve_user,
    select_runtime,
)
from imageforge.store import Store

__all__ = ["Builder"]

_TAIL = 20
# What the runtime mounts over the rootfs; if a step's rootfs lacks one, the runtime
# creates an empty stand-in, which must not end up in the layer.
_RUNTIME_PATHS = (
    "proc",
    "sys",
    "dev",
    "etc/hosts",
    "etc/resolv.conf",
    "etc/hostname",
    "etc",
)


@dataclass
class _State:
    data: dict[str, Any]
    layers: list[Layer]
    new_layers: list[Layer] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    shell: list[str] = field(default_factory=lambda: list(DEFAULT_SHELL))
    cmd_set: bool = False
    args: dict[str, str] = field(default_factory=dict)
    key: str = ""

    @property
    def config(self) -> dict[str, Any]:
        cfg = self.data.get("config")
        if not isinstance(cfg, dict):
            cfg = {}
            self.data["config"] = cfg
        return cfg


def _now(epoch: int | None) -> str:
    when = (
        datetime.datetime.fromtimestamp(epoch, datetime.UTC)
        if epoch is not None
        else datetime.datetime.now(datetime.UTC)
    )
    return (
        when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        if epoch is None
        else when.strftime("%Y-%m-%dT%H:%M:%SZ")
    )


class _Tail:
    """Reads a pipe in a thread: every line to the progress sink, the last ones kept."""

    def __init__(self, fd: int, progress: ProgressSink, prefix: str) -> None:
        self.lines: deque[str] = deque(maxlen=_TAIL)
        self._fd = fd
        self._progress = progress
        self._prefix = prefix
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        with open(self._fd, "rb", closefd=True) as f:
            for raw in f:
                line = raw.decode("utf-8", errors="replace").rstrip("\n")
                self.lines.append(line)
                self._progress.note(f"{self._prefix}{line}")

    def join(self) -> tuple[str, ...]:
        self._thread.join()
        return tuple(self.lines)


class Builder:
    """Builds single-stage Dockerfiles into images whose new layers live in ``store``."""

    def __init__(
        self,
        store: Store,
        resolver: BaseResolver,
        *,
        runtime: Runtime | None = None,
        progress: ProgressSink = NULL_PROGRESS,
        compression: Compression = "gzip",
        compression_level: int | None = None,
    ) -> None:
        self.store = store
        self.resolver = resolver
        self._runtime = runtime
        self.progress = progress
        self.compression = compression
        # gzip -1 for the layers a build writes, as go-containerregistry writes layers:
        # on a Debian apt layer about 5x faster than -6 for about 9% more bytes; the
        # peers (buildah, BuildKit) do not compress at build time at all.
        self.compression_level = compression_level
        if compression_level is None and compression == "gzip":
            self.compression_level = 1
        self.snapshots = OverlaySnapshotter(store.root / "snapshots")
        self._probe_cache = default_probe_cache()
        self.cache = BuildCache(store)
        self.hashes = FileHashes(store.root / "build-cache" / "file-hashes.json")
        self.used: dict[str, CacheRecord] = {}  # the step records this build used
        self._bases: dict[tuple[str, str | None], Image] = {}
        self._stages: dict[int, Image] = {}
        self._lock = threading.RLock()

    # -- inputs -----------------------------------------------------------------------

    @property
    def runtime(self) -> Runtime:
        with self._lock:
            if self._runtime is None:
                self._runtime = select_runtime(progress=self.progress, cache=self._probe_cache)
            return self._runtime

    def _base(self, name: str, platform: str | None) -> Image:
        with self._lock:
            return self._base_locked(name, platform)

    def _base_locked(self, name: str, platform: str | None) -> Image:
        key = (name, platform)
        if key not in self._bases:
            if name.lower() == "scratch":
                plat = host_platform()
                self._bases[key] = mutate.empty_image(plat.os, plat.architecture)
            else:
                self._bases[key] = self.resolver(name, platform)
        return self._bases[key]

    def _base_env(self, name: str, platform: str | None) -> Mapping[str, str]:
        try:
            base = self._base(name, platform)
        except NotFound:
            return {"PATH": DEFAULT_PATH}  # a stage --target may not need; else FROM fails
        env = env_map(dict(base.config().data.get("config") or {}))
        env.setdefault("PATH", DEFAULT_PATH)  # the build's config gets it too
        return env

    # -- the build ----------------------------------------------------------------------

    def build(self, options: BuildOptions) -> BuildResult:
        # Absolute from here on: the caller's working directory is what a relative
        # context means, and runc would read a relative bind source against its bundle.
        context = options.context.absolute()
        if not context.is_dir():
            raise NotFound(f"build context {context} is not a directory")
        dockerfile_path = (
            options.dockerfile.absolute() if options.dockerfile else context / "Dockerfile"
        )
        if options.dockerfile_text is not None:  # -f - : the Dockerfile came on stdin
            dockerfile_path = context / "Dockerfile"
            df = parse(options.dockerfile_text, file="<stdin>")
        else:
            df = parse_file(dockerfile_path)
        if not df.stages:
            raise InvalidArgument(f"{dockerfile_path}: no FROM instruction, nothing to build")
        resolution = resolve(df, build_args=options.build_args, base_env=self._base_env)
        warnings = [w.message for w in df.warnings]
        unused = self._unused_args(df, options.build_args)
        if unused:
            warnings.append(f"one or more build-args {sorted(unused)} were not consumed by any ARG")
        for w in warnings:
            self.progress.note(f"warning: {w}")
        for source in options.cache_from:
            count = import_cache(self.store, self.cache, source)
            self.progress.note(f"cache: {count} step records imported from {source}")
        target = self._target(resolution, options.target)
        needed = self._needed(resolution, target)
        for index in needed:  # refused before anything runs, not at step 12
            for instr in resolution.stages[index].instructions:
                if isinstance(instr, Run):
                    self._network(instr, options, df.file)
        created = _now(options.source_date_epoch)
        ignore = load_dockerignore(context, dockerfile_path)
        steps: list[StepReport] = []
        self._stages = {}
        per_stage: dict[int, list[StepReport]] = {}

        def job(index: int, deps: list[Future[None]]) -> None:
            for dep in deps:
                dep.result()  # a failed dependency fails this stage too
            image, stage_steps = self._build_stage(
                df,
                resolution,
                resolution.stages[index],
                options,
                created,
                context,
                ignore,
                final=index == target,
            )
            self._stages[index] = image
            per_stage[index] = stage_steps

        with self.store.writing():
            if len(needed) == 1:
                job(needed[0], [])
            else:
                # independent stages run at once; each waits only for the stages it uses
                with ThreadPoolExecutor(max_workers=len(needed)) as pool:
                    futures: dict[int, Future[None]] = {}
                    for index in needed:
                        deps = [futures[d] for d in self._deps(resolution, index)]
                        futures[index] = pool.submit(job, index, deps)
                    for index in needed:
                        futures[index].result()
        self.hashes.save()
        if options.cache_to is not None:
            written = export_cache(self.store, self.used, options.cache_to)
            self.progress.note(
                f"cache: {len(self.used)} steps, {written} layers -> {options.cache_to}"
            )
        for index in needed:
            steps.extend(per_stage[index])
        return BuildResult(self._stages[target], tuple(steps), tuple(warnings))

    # -- stages --------------------------------------------------------------------------

    @staticmethod
    def _stage_index(resolution: Resolution, name: str, before: int) -> int | None:
        """The stage ``name`` refers to (its AS name or its number), if an earlier one."""
        for stage in resolution.stages[:before]:
            if stage.name is not None and stage.name == name.lower():
                return stage.index
        if name.isdigit() and int(name) < before:
            return int(name)
        return None

    def _target(self, resolution: Resolution, target: str | None) -> int:
        if not target:
            return len(resolution.stages) - 1
        found = self._stage_index(resolution, target, len(resolution.stages))
        if found is None:
            names = [s.name for s in resolution.stages if s.name]
            raise InvalidArgument(
                f"--target {target!r}: no such stage",
                hint=f"stages: {', '.join(names) or 'none is named (use FROM ... AS name)'}",
            )
        return found

    def _deps(self, resolution: Resolution, index: int) -> list[int]:
        """The earlier stages stage ``index`` uses: FROM <stage>, COPY --from=<stage>."""
        stage = resolution.stages[index]
        refs = [stage.base]
        refs += [i.from_ for i in stage.instructions if isinstance(i, Copy) and i.from_]
        found = (self._stage_index(resolution, ref, index) for ref in refs)
        return sorted({d for d in found if d is not None})

    def _needed(self, resolution: Resolution, target: int) -> list[int]:
        """The stages ``target`` needs, in order: a stage nothing needs is never run."""
        seen: set[int] = set()
        todo = [target]
        while todo:
            index = todo.pop()
            if index not in seen:
                seen.add(index)
                todo.extend(self._deps(resolution, index))
        return sorted(seen)

    def _triggers(
        self, triggers: Sequence[str], stage: ResolvedStage, options: BuildOptions
    ) -> list[Instruction]:
        """The base image's ONBUILD triggers as instructions, run before the stage's own
        (then dropped from the config, as Docker does)."""
        if not triggers:
            return []
        text = "FROM scratch\n" + "".join(f"{t}\n" for t in triggers)
        df = parse(text.encode())
        for instr in df.stages[0].instructions:
            if isinstance(instr, Onbuild) or instr.keyword in ("FROM", "MAINTAINER"):
                raise InvalidArgument(
                    f"base image of stage {stage.index} has an ONBUILD trigger "
                    f"{instr.keyword} that Docker does not allow",
                )
        resolved = resolve(df, build_args=options.build_args)
        self.progress.note(f"running {len(triggers)} ONBUILD trigger(s) of {stage.base}")
        return list(resolved.stages[0].instructions)

    def _build_stage(
        self,
        df: Dockerfile,
        resolution: Resolution,
        stage: ResolvedStage,
        options: BuildOptions,
        created: str,
        context: Path,
        ignore: DockerIgnore,
        *,
        final: bool,
    ) -> tuple[Image, list[StepReport]]:
        parent = self._stage_index(resolution, stage.base, stage.index)
        base = (
            self._stages[parent] if parent is not None else self._base(stage.base, stage.platform)
        )
        data = dict(base.config().data)
        data["config"] = dict(data.get("config") or {})
        data["history"] = list(data.get("history") or [])
        state = _State(data=data, layers=list(base.layers()), key=str(base.digest))
        shell = data["config"].get("Shell")
        if shell:
            state.shell = list(shell)
        triggers = self._triggers(data["config"].pop("OnBuild", None) or [], stage, options)
        instructions = [*triggers, *stage.instructions]
        steps: list[StepReport] = []
        total = len(instructions) + 1
        name = f" AS {stage.name}" if stage.name else ""
        prefix = f"stage {stage.index}{name}: " if len(resolution.stages) > 1 else ""
        self.progress.note(f"{prefix}[1/{total}] FROM {stage.base} ({base.digest.short})")
        for i, instr in enumerate(instructions, start=2):
            with ExitStack() as stack:  # read-only views and downloads live for one step
                steps.append(
                    self._step(
                        df,
                        i,
                        total,
                        instr,
                        state,
                        options,
                        created,
                        context,
                        ignore,
                        proxy=stage.proxy_env,
                        resolution=resolution,
                        stage_index=stage.index,
                        prefix=prefix,
                        stack=stack,
                    )
                )
        labels = options.labels if final else {}
        final_key = step_key(
            state.key, canonical_json(dict(labels)).decode(), str(options.source_date_epoch)
        )
        image = self._reuse(final_key, steps) if not options.no_cache else None
        if image is None:
            image = self._finish(base, state, labels, created)
            self._remember(final_key, image)
        return image, steps

    def _reuse(self, key: str, steps: Sequence[StepReport]) -> Image | None:
        """The image an identical, fully cached build made before (same digest, as
        buildah --layers and BuildKit give), if the store still holds all of it."""
        if any(not s.cached for s in steps if s.kind == "fs"):
            return None
        digest = self.cache.get_image(key)
        if digest is None:
            return None
        raw, _ = self.store.read_manifest(digest)
        self.progress.note(f"the whole build was cached: image {digest.short}")
        return BlobImage(self.store.blobs.open, raw, validate=False)  # made by a build

    def _remember(self, key: str, image: Image) -> None:
        """Keep the config and manifest in the store (unnamed until the caller names the
        image) and note them as this build's result."""
        if any(not self.store.blobs.exists(layer.digest) for layer in image.layers()):
            return  # the base lives outside the store (oci:, docker-archive:)
        self.store.blobs.write_blob(image.raw_config(), image.manifest().config.digest)
        self.store.blobs.write_blob(image.raw_manifest(), image.digest)
        self.cache.put_image(key, image.digest)

    def _unused_args(self, df: Dockerfile, given: Mapping[str, str]) -> set[str]:
        declared = {d.key for a in df.meta_args for d in a.args}
        for stage in df.stages:
            for instr in stage.instructions:
                if isinstance(instr, Arg):
                    declared.update(d.key for d in instr.args)
        builtin = set(predefined_args()) | set(PROXY_ARGS) | {p.lower() for p in PROXY_ARGS}
        return {k for k in given if k not in declared and k not in builtin}

    def _finish(
        self, base: Image, state: _State, extra_labels: Mapping[str, str], created: str
    ) -> Image:
        data = state.data
        if extra_labels:
            labels = dict(state.config.get("Labels") or {})
            labels.update(extra_labels)
            state.config["Labels"] = labels
        if "PATH" not in env_map(state.config):  # as buildah and BuildKit do
            env_list_set(state.config, "PATH", DEFAULT_PATH)
        data["created"] = created
        data["history"] = [*data.get("history", []), *state.history]
        rootfs = dict(data.get("rootfs") or {"type": "layers"})
        rootfs["type"] = "layers"
        rootfs["diff_ids"] = [str(layer.diff_id) for layer in state.layers]
        data["rootfs"] = rootfs
        plat = host_platform()
        data.setdefault("architecture", plat.architecture)
        data.setdefault("os", plat.os)
        config = ImageConfig.parse(canonical_json(data), what="built image config")
        grown = mutate.append_layers(base, *(mutate.Addendum(lyr) for lyr in state.new_layers))
        return mutate.set_config(grown, config)

    # -- one instruction ---------------------------------------------------------------

    def _source_view(self, image: Image, stack: ExitStack) -> Path:
        """A read-only mount of ``image``'s filesystem for COPY --from."""
        parents = self._ensure_snapshots(image.layers())
        active = self.snapshots.prepare(parents, readonly=True)
        stack.callback(self.snapshots.remove, active)
        return active.merged

    def _step(
        self,
        df: Dockerfile,
        index: int,
        total: int,
        instr: Instruction,
        state: _State,
        options: BuildOptions,
        created: str,
        context: Path,
        ignore: Any,
        *,
        proxy: Mapping[str, str],
        resolution: Resolution,
        stage_index: int,
        prefix: str,
        stack: ExitStack,
    ) -> StepReport:
        line = instr.location.start_line
        where = f"{df.file}:{line}"
        text = format_instruction(instr, df.escape).split("\n", 1)[0]
        label = f"{prefix}[{index}/{total}] {text}"
        started = time.monotonic()
        loc = Location(df.file, line, instr.location.column)
        cached = False
        layer_digest: str | None = None
        size = 0
        parent_key = state.key
        state.key = step_key(state.key, format_instruction(instr, df.escape))
        if isinstance(instr, Run | Copy | Add | Workdir):
            seen: dict[str, str] = {}
            if isinstance(instr, Workdir):
                state.config["WorkingDir"] = workdir_path(
                    state.config.get("WorkingDir"), instr.path
                )
            extra = ""
            copy_plan = None
            run_mounts: list[Mount] = []
            run_env: dict[str, str] = {}
            if isinstance(instr, Copy) and instr.from_:
                dep = self._stage_index(resolution, instr.from_, stage_index)
                source = self._stages[dep] if dep is not None else self._base(instr.from_, None)
                copy_plan = plan_copy(
                    instr,
                    context=self._source_view(source, stack),
                    ignore=DockerIgnore(),
                    workdir=state.config.get("WorkingDir"),
                    where=where,
                    from_image=instr.from_,
                )
                seen = copy_plan.inputs()  # a fresh mount each time: nothing to remember
                extra = copy_plan.digest(inputs=seen)
            elif isinstance(instr, Copy | Add):
                downloads = Path(stack.enter_context(tempfile.TemporaryDirectory()))
                copy_plan = plan_copy(
                    instr,
                    context=context,
                    ignore=ignore,
                    workdir=state.config.get("WorkingDir"),
                    where=where,
                    downloads=downloads,
                )
                seen = copy_plan.inputs(self.hashes)
                extra = copy_plan.digest(inputs=seen)
            elif isinstance(instr, Run):
                run_mounts, inputs = self._run_mounts(
                    instr, state, options, context, ignore, resolution, stage_index, stack, where
                )
                run_env = self._run_env(state, proxy)
                run_inputs = {
                    "env": run_env,
                    "shell": state.shell,
                    "user": state.config.get("User") or "",
                    "cwd": state.config.get("WorkingDir") or "/",
                    "network": self._network(instr, options, df.file),
                    "security": options.security.cache_key(),
                    "mounts": inputs,
                }
                extra = canonical_json(run_inputs).decode()
                seen = {f"env {k}": v for k, v in run_env.items()}
                seen.update({k: str(v) for k, v in run_inputs.items() if k != "env"})
            else:
                extra = str(state.config.get("User") or "")
            key = step_key(state.key, extra)
            hit = None if options.no_cache else self.cache.get(key)
            record: dict[str, object] = {"instruction": text, "parent": parent_key, "inputs": seen}
            position = step_key(str(Path(df.file).resolve()), str(stage_index), str(index))
            if hit is None and not options.no_cache:
                self.progress.note(f"{label}: not cached: {self.cache.why(position, record)}")
            self.cache.remember_inputs(position, record)
            self.progress.start(label, label)
            try:
                if hit is not None:
                    cached = True
                    layer: Layer | None = None
                    if hit.layer is not None and hit.diff_id is not None:
                        layer = BlobLayer(hit.layer, hit.diff_id, self.store.blobs.open)
                else:
                    layer = self._run_fs_step(
                        instr, state, options, copy_plan, loc, where, run_mounts, run_env
                    )
                    self.cache.put(
                        key,
                        None
                        if layer is None
                        else Descriptor(layer.media_type, layer.digest, layer.size),
                        None if layer is None else layer.diff_id,
                    )
                self.used[key] = (
                    None
                    if layer is None
                    else Descriptor(layer.media_type, layer.digest, layer.size),
                    None if layer is None else layer.diff_id,
                )
            except BaseException:
                self.progress.done(label, failed=True)
                raise
            state.key = key
            history: dict[str, Any] = {"created": created, "created_by": text}
            if layer is None:
                history["empty_layer"] = True
            else:
                state.layers.append(layer)
                state.new_layers.append(layer)
                layer_digest = str(layer.digest)
                size = layer.size
            state.history.append(history)
            seconds = time.monotonic() - started
            self.progress.done(label, "CACHED" if cached else None)
            return StepReport(index, line, text, cached, seconds, layer_digest, size, kind="fs")
        self._metadata(instr, state, where)
        state.history.append({"created": created, "created_by": text, "empty_layer": True})
        self.progress.note(f"{label}")
        return StepReport(index, line, text, False, time.monotonic() - started)

    def _metadata(self, instr: Instruction, state: _State, where: str) -> None:
        cfg = state.config
        if isinstance(instr, Env):
            for pair in instr.pairs:
                env_list_set(cfg, pair.key, pair.value)
        elif isinstance(instr, Arg):
            for d in instr.args:
                if d.value is not None:
                    state.args[d.key] = d.value
        elif isinstance(instr, Maintainer):
            state.data["author"] = instr.maintainer
        elif isinstance(instr, Onbuild):
            trigger = instr.source.strip()
            if trigger.upper().startswith("ONBUILD"):
                trigger = trigger[len("ONBUILD") :].strip()
            cfg["OnBuild"] = [*(cfg.get("OnBuild") or []), trigger]
        else:
            apply_metadata(cfg, instr, shell=state.shell, cmd_set=state.cmd_set, where=where)
            kind = instr.keyword
            if kind == "CMD":
                state.cmd_set = True
            elif kind == "SHELL":
                state.shell = list(cfg["Shell"])

    @staticmethod
    def _network(instr: Run, options: BuildOptions, file: str) -> str:
        where = f"{file}:{instr.location.start_line}"
        return step_network(instr.network, options.network, options.allow, where)

    def _run_env(self, state: _State, proxy: Mapping[str, str]) -> dict[str, str]:
        env = dict(proxy)
        env.update(state.args)
        env.update(env_map(state.config))
        env.setdefault("PATH", DEFAULT_PATH)
        return env

    # -- filesystem steps ----------------------------------------------------------------

    def _ensure_snapshots(self, layers: Sequence[Layer]) -> list[Digest]:
        missing = [lyr for lyr in layers if not self.snapshots.has(lyr.diff_id)]
        for layer in missing:
            self.progress.note(f"unpacking layer {layer.digest.short}")
        return self.snapshots.ensure(layers)

    @contextmanager
    def _snapshot(self, state: _State) -> Iterator[ActiveSnapshot]:
        parents = self._ensure_snapshots(state.layers)
        active = self.snapshots.prepare(parents)
        try:
            yield active
        except BaseException:
            self.snapshots.remove(active)
            raise

    def _run_fs_step(
        self,
        instr: Instruction,
        state: _State,
        options: BuildOptions,
        copy_plan: Any,
        loc: Location,
        where: str,
        run_mounts: Sequence[Mount] = (),
        run_env: Mapping[str, str] | None = None,
    ) -> Layer | None:
        with self._snapshot(state) as active:
            root = active.merged
            points: set[str] = set(_RUNTIME_PATHS)
            for m in run_mounts:  # each mount point and the parents the runtime makes
                parts = [p for p in m.destination.split("/") if p]
                points.update("/".join(parts[: i + 1]) for i in range(len(parts)))
            ordered = sorted(points, key=lambda p: (-p.count("/"), p))
            missing = [p for p in ordered if not os.path.lexists(root / p)]
            if isinstance(instr, Run):
                self._run(instr, state, options, root, loc, run_mounts, run_env or {})
            elif isinstance(instr, Copy | Add):
                apply_copy(copy_plan, root)
            elif isinstance(instr, Workdir):
                path = state.config["WorkingDir"]
                if not resolve_in_root(root, path).is_dir():
                    # created for the current USER, as buildah does
                    uid, gid, _ = resolve_user(root, str(state.config.get("User") or ""))
                    mkdirs_in_root(root, path, uid=uid, gid=gid)
            active.unmount()
            _drop_runtime_stubs(active.upper, missing if isinstance(instr, Run) else [])
            _drop_unchanged_dirs(
                active.upper, [self.snapshots.path(p) for p in reversed(active.parents)]
            )
            if _is_empty_dir(active.upper):
                self.snapshots.remove(active)
                return None
            layer = self._write_layer(active, options)
            self.snapshots.commit(active, layer.diff_id)
            return layer

    def _write_layer(self, active: ActiveSnapshot, options: BuildOptions) -> Layer:
        ingest = self.store.blobs.begin(f"build-{active.id}")
        try:
            info = diff_upper(
                active.upper,
                ingest,
                compression=self.compression,
                level=self.compression_level,
                mtime_clamp=options.source_date_epoch,
            )
            ingest.commit(info.size, info.digest)
        except BaseException:
            ingest.abort()
            raise
        desc = Descriptor(info.media_type, info.digest, info.size)
        return BlobLayer(desc, info.diff_id, self.store.blobs.open)

    def _run_mounts(
        self,
        instr: Run,
        state: _State,
        options: BuildOptions,
        context: Path,
        ignore: DockerIgnore,
        resolution: Resolution,
        stage_index: int,
        stack: ExitStack,
        where: str,
    ) -> tuple[list[Mount], list[str]]:
        """The runtime mounts for ``RUN --mount=...`` and what of them the cache key
        depends on (a bind mount's content; never a secret's or a cache's). A bind of
        the context resolves its source inside the context and shows it as
        ``.dockerignore`` leaves it (see ``_context_view``)."""
        mounts: list[Mount] = []
        inputs: list[str] = []
        workdir = str(state.config.get("WorkingDir") or "/")
        for m in instr.mounts:
            kind = m.type or "bind"
            target = posixpath.join(workdir, m.target) if m.target else ""
            if kind == "secret":
                secret_id = m.id or posixpath.basename(m.target or "")
                target = target or f"/run/secrets/{secret_id}"
                value = options.secrets.get(secret_id)
                if value is None:
                    if m.required:
                        raise NotFound(
                            f"{where}: secret {secret_id!r} is required but was not given",
                            hint=f"pass --secret id={secret_id},src=FILE (or env=NAME)",
                        )
                    continue
                tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
                path = tmp / "secret"
                path.write_bytes(value)
                os.chown(path, int(m.uid or 0), int(m.gid or 0))
                path.chmod(int(m.mode or "0400", 8))
                mounts.append(Mount(target, "bind", str(path), ("rbind", "ro")))
                inputs.append(f"secret:{secret_id}:{target}")
                continue
            if not target:
                raise InvalidArgument(f"{where}: RUN --mount={m.raw}: a target is required")
            if kind == "tmpfs":
                size = f",size={m.size}" if m.size else ""
                mounts.append(Mount(target, "tmpfs", "tmpfs", (f"mode=1777{size}", "nosuid")))
                inputs.append(f"tmpfs:{target}")
            elif kind == "cache":
                cache_id = m.id or target
                name = hashlib.sha256(cache_id.encode()).hexdigest()[:32]
                # absolute: runc reads a relative source against its bundle directory
                host = self.store.root.absolute() / "cache-mounts" / name
                try:  # stages running at the same time may share it: one makes it
                    host.mkdir(parents=True)
                except FileExistsError:
                    pass
                else:
                    os.chown(host, int(m.uid or 0), int(m.gid or 0))
                    host.chmod(int(m.mode or "0755", 8))
                options_ = ("rbind", "ro" if m.readonly else "rw")
                mounts.append(Mount(target, "bind", str(host), options_))
                inputs.append(f"cache:{cache_id}:{target}")
            elif kind == "bind":
                source = m.source or "."
                if m.from_:
                    dep = self._stage_index(resolution, m.from_, stage_index)
                    image = self._stages[dep] if dep is not None else self._base(m.from_, None)
                    base_dir = self._source_view(image, stack)
                    host = resolve_in_root(base_dir, source)
                    probe = Copy(sources=(source,), dest="/x")
                    digest = plan_copy(
                        probe,
                        context=base_dir,
                        ignore=DockerIgnore(),
                        workdir=None,
                        where=where,
                        from_image=m.from_,
                    ).digest()
                else:
                    probe = Copy(sources=(source,), dest="/x")
                    plan = plan_copy(
                        probe,
                        context=context,
                        ignore=ignore,
                        workdir=None,
                        where=where,
                        keyword="RUN --mount=type=bind",
                    )
                    src = plan.sources[0]
                    host = src.path or context
                    if src.is_dir:
                        host = context_view(
                            host,
                            src.real,
                            ignore,
                            scratch=self.store.root.absolute() / "context-views",
                            stack=stack,
                            userxattr=self.snapshots.userxattr,
                        )
                    digest = plan.digest()
                rw = m.readonly is False
                if rw:  # writes are allowed but thrown away: mount a copy
                    tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
                    copy_dst = tmp / "src"
                    writable_copy(host, copy_dst)
                    host = copy_dst
                access = "rw" if rw else "ro"
                mounts.append(Mount(target, "bind", str(host), (*BIND_OPTIONS, access)))
                inputs.append(f"bind:{m.from_ or ''}:{source}:{target}:{digest}")
            else:
                raise Unsupported(f"{where}: RUN --mount=type={kind} is not supported")
        return mounts, inputs

    def _run(
        self,
        instr: Run,
        state: _State,
        options: BuildOptions,
        root: Path,
        loc: Location,
        run_mounts: Sequence[Mount],
        run_env: Mapping[str, str],
    ) -> None:
        argv, script = _run_argv(instr, state.shell)
        env = dict(run_env)  # what the cache key was made from
        for m in instr.mounts:  # a secret may also be exposed as an environment variable
            if m.type == "secret" and m.env:
                secret = options.secrets.get(m.id or "")
                if secret is not None:
                    env[m.env] = secret.decode("utf-8", errors="replace")
        uid, gid, groups = resolve_user(root, str(state.config.get("User") or ""))
        cwd = str(state.config.get("WorkingDir") or "/")
        process = Process(args=argv, env=env, cwd=cwd, uid=uid, gid=gid, additional_gids=groups)
        network = self._network(instr, options, loc.file)
        read_fd, write_fd = os.pipe()
        tail = _Tail(read_fd, self.progress, "  | ")
        with tempfile.TemporaryDirectory(prefix="imageforge-run-") as tmp:
            mounts = etc_mounts(Path(tmp), "imageforge", network)
            mounts.extend(run_mounts)
            if script is not None:  # a heredoc with a #! line runs as a file
                path = Path(tmp) / "script"
                path.write_text(script)
                path.chmod(0o755)
                mounts.append(Mount(_SCRIPT, "bind", str(path), ("rbind", "ro")))
            try:
                status = self.runtime.run(
                    root,
                    process,
                    mounts=mounts,
                    io=StdIO(stdout=write_fd, stderr=write_fd),
                    network=network,
                    security=options.security,
                )
            finally:
                os.close(write_fd)
            output = tail.join()
        if status.ok:
            return
        command = " ".join(argv)
        shown = "\n".join(f"  | {line}" for line in output[-10:])
        if status.runtime_error:
            forget_runtime_probe(self._probe_cache)  # probe afresh next time
            raise StepFailed(
                f"RUN could not start: {status.runtime_error}",
                exit_code=status.code,
                output=output,
                location=loc,
                hint="run 'imageforge system check' to see whether containers can start",
            )
        raise StepFailed(
            f"RUN {command!r} exited with code {status.code}"
            + (f"; last lines of its output:\n{shown}" if shown else " and printed nothing"),
            exit_code=status.code,
            output=output,
            location=loc,
            hint="fix the command or the files it needs; nothing was tagged",
        )


_SCRIPT = "/dev/.imageforge-heredoc"  # under the runtime's /dev tmpfs: never in a layer
_ONLY_HEREDOC = re.compile(r"<<-?([\'\"]?)(?P<name>[^\'\"\s]+)\1")


def _chomped(doc: Heredoc) -> str:
    if not doc.chomp:
        return doc.content
    return "".join(line.lstrip("\t") for line in doc.content.splitlines(keepends=True))


def _run_argv(instr: Run, shell: Sequence[str]) -> tuple[list[str], str | None]:
    """RUN's argv, and the script to mount when it is a lone heredoc with a ``#!`` line.
    As BuildKit: ``RUN <<EOF`` runs the heredoc as the script (a file if it starts with
    ``#!``); any other heredoc use hands the whole text to the shell, which reads it."""
    args = list(instr.args)
    if not instr.heredocs or instr.exec_form:
        return command_args(args, instr.exec_form, shell), None
    line = args[0] if args else ""
    only = _ONLY_HEREDOC.fullmatch(line.strip())
    if len(instr.heredocs) == 1 and only and only.group("name") == instr.heredocs[0].name:
        body = _chomped(instr.heredocs[0])
        if body.startswith("#!"):
            return [_SCRIPT], body
        return [*shell, body], None
    text = line + "\n" + "".join(f"{h.content}{h.name}\n" for h in instr.heredocs)
    return [*shell, text], None


def _is_empty_dir(path: Path) -> bool:
    with os.scandir(path) as entries:  # closed even when it stops at the first entry
        return next(entries, None) is None


def _drop_runtime_stubs(upper: Path, created: Sequence[str]) -> None:
    """Remove what the runtime made in place of a missing mount point, if still empty."""
    for rel in created:  # files first (etc/hosts), then their dirs (etc)
        path = upper / rel
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            continue
        if stat.S_ISREG(st.st_mode) and st.st_size == 0:
            os.unlink(path)
        elif stat.S_ISDIR(st.st_mode) and _is_empty_dir(path):
            os.rmdir(path)


def _drop_unchanged_dirs(upper: Path, lowers: Sequence[Path]) -> None:
    """Remove empty directories overlayfs copied up without a change of their own (a
    file made and deleted in them, a runtime stub removed): same type, mode and owner
    as in the topmost lower that has them, and not opaque."""
    for dirpath, dirnames, filenames in os.walk(upper, topdown=False):
        path = Path(dirpath)
        if (
            path == upper
            or filenames
            or any((path / d).exists() or (path / d).is_symlink() for d in dirnames)
        ):
            continue
        try:
            if os.getxattr(path, "trusted.overlay.opaque", follow_symlinks=False) == b"y":
                continue
        except OSError:
            pass
        rel = path.relative_to(upper)
        st = os.lstat(path)
        for lower in lowers:
            candidate = lower / rel
            try:
                lst = os.lstat(candidate)
            except (FileNotFoundError, NotADirectoryError):
                continue
            if (
                stat.S_ISDIR(lst.st_mode)
                and stat.S_IMODE(lst.st_mode) == stat.S_IMODE(st.st_mode)
                and (lst.st_uid, lst.st_gid) == (st.st_uid, st.st_gid)
            ):
                os.rmdir(path)
            break
