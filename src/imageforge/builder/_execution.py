"""One build carried out (BuildKit's ``dispatch``): the plan's stages, each instruction
dispatched by its kind.

Metadata instructions change the stage's config (:class:`StageState`). Filesystem
instructions (RUN, COPY/ADD, WORKDIR that creates a directory) first say what they will
do and what their cache key is made of (a :class:`Change`); a cached step reuses its
layer, any other runs over an overlay snapshot of the layers so far, and the Differ turns
the snapshot's upper dir into the step's layer (none when nothing changed).

Nothing is named here: the result is an :class:`oci.Image` whose new layers are blobs
in the store; the caller names it (store tag, ``--output``), so a failed build leaves
no image and no tag.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

from imageforge.builder._config import apply_metadata, env_list_set, workdir_path
from imageforge.builder._copy import apply_copy, plan_copy
from imageforge.builder._model import BuildOptions, BuildResult, CacheRecord, StepReport
from imageforge.builder._network import step_network
from imageforge.builder._plan import (
    BuildPlan,
    RunInputs,
    final_key,
    onbuild_triggers,
    step_key,
    step_position,
)
from imageforge.builder._run import RunCommand, run_command
from imageforge.builder._run_mounts import MountSources, run_mounts
from imageforge.builder._schedule import run_stages
from imageforge.builder._services import BuildServices
from imageforge.builder._stage_state import StageState
from imageforge.dockerfile import (
    Add,
    Arg,
    Cmd,
    Copy,
    DockerIgnore,
    Env,
    Instruction,
    Maintainer,
    Onbuild,
    Run,
    Shell,
    Workdir,
    format_instruction,
    load_dockerignore,
)
from imageforge.errors import Location
from imageforge.layers import (
    BlobImage,
    BlobLayer,
    ingest_layer,
    mkdirs_in_root,
    resolve_in_root,
)
from imageforge.oci import Descriptor, Digest, Image, Layer, rfc3339
from imageforge.runtime import (
    ContainerOptions,
    Mount,
    in_user_namespace,
    mount_points,
    resolve_user,
)

__all__ = ["Change", "Execution"]


def _now(epoch: int | None) -> str:
    """The history's ``created``: SOURCE_DATE_EPOCH to the second, else now to the
    microsecond (as BuildKit writes them)."""
    return rfc3339(epoch) if epoch is not None else rfc3339(digits=6)


@dataclass(frozen=True)
class Step:
    """One instruction of a stage being dispatched: its place, its text, the errors'
    location, and a stack for what lives as long as the step (views, downloads)."""

    stage: int
    number: int
    total: int
    instr: Instruction
    text: str
    label: str
    at: Location
    stack: ExitStack
    started: float = field(default_factory=time.monotonic)

    @property
    def where(self) -> str:
        return f"{self.at.file}:{self.at.line}"

    def report(self, *, cached: bool = False, layer: Layer | None = None) -> StepReport:
        seconds = time.monotonic() - self.started
        if not isinstance(self.instr, Run | Copy | Add | Workdir):
            return StepReport(self.number, self.at.line, self.text, False, seconds)
        digest, size = (str(layer.digest), layer.size) if layer is not None else (None, 0)
        return StepReport(
            self.number, self.at.line, self.text, cached, seconds, digest, size, kind="fs"
        )


@dataclass(frozen=True)
class Change:
    """What a filesystem step will do, known before it runs: ``key`` is the part of its
    cache key beyond the instruction, ``inputs`` what the key was made from (to explain
    a miss), ``apply`` the work on the step's rootfs; ``mounts`` are the runtime's
    mounts, whose empty stand-ins must not end up in the layer."""

    key: str
    inputs: Mapping[str, str]
    apply: Callable[[Path], None]
    mounts: Sequence[Mount] | None = None


class Execution:
    """One build of one plan: the stages it needs, in order (independent ones at the
    same time), then the cache export. ``run`` gives the target stage's image."""

    def __init__(
        self,
        services: BuildServices,
        plan: BuildPlan,
        options: BuildOptions,
        context: Path,
        dockerfile: Path,
    ) -> None:
        self.services = services
        self.plan = plan
        self.options = options
        self.context = context
        self.ignore = load_dockerignore(context, dockerfile)
        # where the cache remembers what each step saw (the Dockerfile as parsed)
        self.position_file = str(Path(plan.dockerfile.file).resolve())
        self.created = _now(options.source_date_epoch)
        self.used: dict[str, CacheRecord] = {}  # the step records this build used
        self.images: dict[int, Image] = {}
        self.reports: dict[int, list[StepReport]] = {}

    @cached_property
    def _security_key(self) -> str:
        return self.options.security.cache_key()

    @cached_property
    def _userxattr(self) -> bool:
        return in_user_namespace()

    def run(self) -> BuildResult:
        store = self.services.store
        with store.writing():
            try:
                run_stages(
                    self.plan.stages,
                    self.plan.deps,
                    self._stage,
                    on_error=self.services.containers.stop,  # Ctrl-C or a failed stage
                )
            finally:  # what the steps recorded, a failed build's too
                self.services.cache.sync()
        self.services.hashes.save()
        steps = [report for index in self.plan.stages for report in self.reports[index]]
        return BuildResult(
            self.images[self.plan.target],
            tuple(steps),
            self.plan.warnings,
            cache_records=dict(self.used),
        )

    # -- stages -----------------------------------------------------------------------

    def _named(self, name: str, before: int) -> Image:
        """``name`` in stage ``before``: an earlier stage's image, else an image."""
        index = self.plan.earlier_stage(name, before)
        if index is not None:
            return self.images[index]
        return self.services.bases.get(name, self.plan.stage_platform(before))

    def _view(self, image: Image, stack: ExitStack) -> Path:
        """A read-only mount of ``image``'s filesystem, until ``stack`` closes."""
        snapshot = self.services.snapshots.prepare(self._unpacked(image.layers()), readonly=True)
        stack.callback(self.services.snapshots.remove, snapshot)
        return snapshot.merged

    def _unpacked(self, layers: Sequence[Layer]) -> list[Digest]:
        snapshots = self.services.snapshots
        for layer in layers:
            if not snapshots.has(layer.diff_id):
                self.services.progress.note(f"unpacking layer {layer.digest.short}")
        return snapshots.ensure(layers)

    def _stage(self, index: int) -> None:
        stage = self.plan.stage(index)
        parent = self.plan.earlier_stage(stage.base, index)
        base = (
            self.images[parent]
            if parent is not None
            else self.services.bases.get(stage.base, self.plan.stage_platform(index))
        )
        state = StageState.from_base(base, stage.proxy_env)
        triggers = onbuild_triggers(state.take_onbuild(), stage, self.plan.build_args)
        if triggers:
            self.services.progress.note(
                f"running {len(triggers)} ONBUILD trigger(s) of {stage.base}"
            )
        instructions = [*triggers, *stage.instructions]
        total = len(instructions) + 1
        name = f" AS {stage.name}" if stage.name else ""
        prefix = f"stage {stage.index}{name}: " if len(self.plan.resolution.stages) > 1 else ""
        self.services.progress.note(f"{prefix}[1/{total}] FROM {stage.base} ({base.digest.short})")
        reports: list[StepReport] = []
        escape = self.plan.dockerfile.escape
        for number, instr in enumerate(instructions, start=2):
            text = format_instruction(instr, escape).split("\n", 1)[0]
            loc = instr.location
            with ExitStack() as stack:  # read-only views and downloads live for one step
                step = Step(
                    index,
                    number,
                    total,
                    instr,
                    text,
                    f"{prefix}[{number}/{total}] {text}",
                    Location(self.plan.dockerfile.file, loc.start_line, loc.column),
                    stack,
                )
                reports.append(self.dispatch(state, step))
        self.images[index] = self._image(
            base, state, final=index == self.plan.target, steps=reports
        )
        self.reports[index] = reports

    def _image(
        self, base: Image, state: StageState, *, final: bool, steps: Sequence[StepReport]
    ) -> Image:
        labels = self.options.labels if final else {}
        key = final_key(state.key, labels, self.options.source_date_epoch)
        image = None if self.options.no_cache else self._reuse(key, steps)
        if image is None:
            image = state.image(base, labels, self.created)
            self._remember(key, image)
        return image

    def _reuse(self, key: str, steps: Sequence[StepReport]) -> Image | None:
        """The image an identical, fully cached build made before (same digest, as
        buildah --layers and BuildKit give), if the store still holds all of it."""
        if any(not s.cached for s in steps if s.kind == "fs"):
            return None
        digest = self.services.cache.get_image(key)
        if digest is None:
            return None
        store = self.services.store
        raw, _ = store.read_manifest(digest)
        self.services.progress.note(f"the whole build was cached: image {digest.short}")
        return BlobImage(store.blobs.open, raw, validate=False)  # made by a build

    def _remember(self, key: str, image: Image) -> None:
        """Keep the config and manifest in the store (unnamed until the caller names the
        image) and note them as this build's result."""
        blobs = self.services.store.blobs
        if any(not blobs.exists(layer.digest) for layer in image.layers()):
            return  # the base lives outside the store (oci:, docker-archive:)
        blobs.write_blob(image.raw_config(), image.manifest().config.digest)
        blobs.write_blob(image.raw_manifest(), image.digest)
        self.services.cache.put_image(key, image.digest)

    # -- dispatch ---------------------------------------------------------------------

    def dispatch(self, state: StageState, step: Step) -> StepReport:
        """Carry out one instruction on its stage's ``state``."""
        instr = step.instr
        parent_key = state.key
        state.key = step_key(state.key, format_instruction(instr, self.plan.dockerfile.escape))
        if isinstance(instr, Run):
            return self._filesystem(state, step, parent_key, self.dispatch_run(state, step, instr))
        if isinstance(instr, Copy | Add):
            return self._filesystem(state, step, parent_key, self.dispatch_copy(state, step, instr))
        if isinstance(instr, Workdir):
            return self._filesystem(state, step, parent_key, self.dispatch_workdir(state, instr))
        if isinstance(instr, Env):
            self.dispatch_env(state, instr)
        elif isinstance(instr, Arg):
            self.dispatch_arg(state, instr)
        elif isinstance(instr, Maintainer):
            self.dispatch_maintainer(state, instr)
        elif isinstance(instr, Onbuild):
            self.dispatch_onbuild(state, instr)
        elif isinstance(instr, Cmd):
            self.dispatch_cmd(state, instr, step.where)
        elif isinstance(instr, Shell):
            self.dispatch_shell(state, instr, step.where)
        else:  # LABEL, USER, EXPOSE, VOLUME, STOPSIGNAL, ENTRYPOINT, HEALTHCHECK
            self.dispatch_config(state, instr, step.where)
        state.record(self.created, step.text, None)
        self.services.progress.note(step.label)
        return step.report()

    def dispatch_env(self, state: StageState, instr: Env) -> None:
        for pair in instr.pairs:
            env_list_set(state.config, pair.key, pair.value)

    def dispatch_arg(self, state: StageState, instr: Arg) -> None:
        for d in instr.args:
            if d.value is not None:
                state.args[d.key] = d.value

    def dispatch_maintainer(self, state: StageState, instr: Maintainer) -> None:
        state.data["author"] = instr.maintainer

    def dispatch_onbuild(self, state: StageState, instr: Onbuild) -> None:
        trigger = instr.source.strip()
        if trigger.upper().startswith("ONBUILD"):
            trigger = trigger[len("ONBUILD") :].strip()
        state.config["OnBuild"] = [*(state.config.get("OnBuild") or []), trigger]

    def dispatch_cmd(self, state: StageState, instr: Cmd, where: str) -> None:
        self.dispatch_config(state, instr, where)
        state.cmd_set = True

    def dispatch_shell(self, state: StageState, instr: Shell, where: str) -> None:
        self.dispatch_config(state, instr, where)
        state.shell = list(state.config["Shell"])

    def dispatch_config(self, state: StageState, instr: Instruction, where: str) -> None:
        apply_metadata(state.config, instr, shell=state.shell, cmd_set=state.cmd_set, where=where)

    def dispatch_workdir(self, state: StageState, instr: Workdir) -> Change:
        path = workdir_path(state.config.get("WorkingDir"), instr.path)
        state.config["WorkingDir"] = path
        user = state.user

        def make(root: Path) -> None:
            if not resolve_in_root(root, path).is_dir():
                # created for the current USER, as buildah does
                uid, gid, _ = resolve_user(root, user)
                mkdirs_in_root(root, path, uid=uid, gid=gid)

        return Change(user, {}, make)

    def dispatch_copy(self, state: StageState, step: Step, instr: Copy | Add) -> Change:
        workdir = state.config.get("WorkingDir")
        if isinstance(instr, Copy) and instr.from_:
            copy = plan_copy(
                instr,
                context=self._view(self._named(instr.from_, step.stage), step.stack),
                ignore=DockerIgnore(),
                workdir=workdir,
                where=step.where,
                from_image=instr.from_,
            )
            seen = copy.inputs()  # a fresh mount each time: nothing to remember
        else:
            downloads = Path(step.stack.enter_context(tempfile.TemporaryDirectory()))
            copy = plan_copy(
                instr,
                context=self.context,
                ignore=self.ignore,
                workdir=workdir,
                where=step.where,
                downloads=downloads,
            )
            seen = copy.inputs(self.services.hashes)
        return Change(copy.digest(inputs=seen), seen, lambda root: apply_copy(copy, root))

    def dispatch_run(self, state: StageState, step: Step, instr: Run) -> Change:
        options = self.options
        network = step_network(instr.network, options.network, options.allow, step.where)
        sources = MountSources(
            context=self.context,
            ignore=self.ignore,
            secrets=options.secrets,
            cache_dir=self.services.store.layout.cache_mounts,
            views_dir=self.services.store.layout.context_views,
            userxattr=self._userxattr,
            image_view=lambda name, stack: self._view(self._named(name, step.stage), stack),
        )
        mounts, mount_inputs = run_mounts(instr, state.workdir, step.where, sources, step.stack)
        env = state.run_env()
        inputs = RunInputs(
            env=env,
            shell=list(state.shell),
            user=state.user,
            cwd=state.workdir,
            network=network,
            security=self._security_key,
            mounts=mount_inputs,
        )
        process_env = dict(env)  # what the cache key was made from, and
        for m in instr.mounts:  # a secret may also be exposed as an environment variable
            if m.type == "secret" and m.env:
                secret = options.secrets.get(m.id or "")
                if secret is not None:
                    process_env[m.env] = secret.decode("utf-8", errors="replace")
        command = RunCommand(
            instr=instr,
            shell=list(state.shell),
            env=process_env,
            user=state.user,
            cwd=state.workdir,
            container=ContainerOptions(
                mounts=mounts, network=network, security=options.security, limits=options.limits
            ),
        )

        def execute(root: Path) -> None:
            runtimes = self.services.runtimes
            control = self.services.containers.control()
            run = replace(command, container=replace(command.container, control=control))
            result = run_command(runtimes.get(), root, run, self.services.progress)
            if result.status.runtime_error:
                runtimes.forget()  # probe afresh next time
            result.check(step.at)

        return Change(inputs.key(), inputs.seen(), execute, mounts=command.container.mounts)

    # -- filesystem steps -------------------------------------------------------------

    def _filesystem(
        self, state: StageState, step: Step, parent_key: str, change: Change
    ) -> StepReport:
        """A filesystem step: its layer from the cache, else made by running it."""
        services = self.services
        key = step_key(state.key, change.key)
        hit = None if self.options.no_cache else services.cache.get(key)
        record: dict[str, object] = {
            "instruction": step.text,
            "parent": parent_key,
            "inputs": dict(change.inputs),
        }
        position = step_position(self.position_file, step.stage, step.number)
        if hit is None and not self.options.no_cache:
            services.progress.note(
                f"{step.label}: not cached: {services.cache.why(position, record)}"
            )
        services.cache.remember_inputs(position, record)
        services.progress.start(step.label, step.label)
        try:
            layer: Layer | None = None
            if hit is not None:
                if hit.layer is not None and hit.diff_id is not None:
                    layer = BlobLayer(hit.layer, hit.diff_id, services.store.blobs.open)
            else:
                layer = self._make_layer(state, change)
                services.cache.put(key, *_record(layer))
            self.used[key] = _record(layer)
        except BaseException:
            services.progress.done(step.label, failed=True)
            raise
        state.key = key
        state.record(self.created, step.text, layer)
        services.progress.done(step.label, "CACHED" if hit is not None else None)
        return step.report(cached=hit is not None, layer=layer)

    def _make_layer(self, state: StageState, change: Change) -> Layer | None:
        """Run ``change`` over a snapshot of the stage's layers; its layer, or None when
        it changed nothing."""
        services = self.services
        snapshots = services.snapshots
        with snapshots.prepare(self._unpacked(state.layers)) as snapshot:
            root = snapshot.merged
            stand_ins: list[str] = []
            if change.mounts is not None:  # what the runtime will mount over, if missing
                points = mount_points(change.mounts)
                stand_ins = [p for p in points if not os.path.lexists(root / p)]
            change.apply(root)
            snapshot.unmount()
            if not services.differ.drop_unchanged(
                snapshot.upper, snapshots.lowers(snapshot), stand_ins=stand_ins
            ):
                return None
            fmt = services.layer_format
            layer = ingest_layer(
                services.store.blobs,
                lambda dst: services.differ.compare(
                    snapshot.upper,
                    dst,
                    compression=fmt.compression,
                    level=fmt.compression_level,
                    mtime_clamp=self.options.source_date_epoch,
                ),
                ref_prefix="build",
            )
            snapshots.commit(snapshot, layer.diff_id)
            return layer


def _record(layer: Layer | None) -> CacheRecord:
    """What the build cache keeps of a step: its layer, if it made one."""
    if layer is None:
        return None, None
    return Descriptor(layer.media_type, layer.digest, layer.size), layer.diff_id
