"""The builder a caller keeps: Dockerfile -> plan (``_plan``) -> one execution
(``_execution``) per build, over the services it holds from one build to the next.
"""

from __future__ import annotations

from imageforge.builder._cache import BuildCache
from imageforge.builder._copy import FileHashes
from imageforge.builder._execution import Execution
from imageforge.builder._isolation_none import isolated_services
from imageforge.builder._model import BaseResolver, BuildOptions, BuildResult, LayerFormat
from imageforge.builder._plan import plan_build
from imageforge.builder._services import BaseImages, BuildServices, RuntimeChoice
from imageforge.dockerfile import parse, parse_file
from imageforge.errors import InvalidArgument, NotFound
from imageforge.layers import OverlayDiffer
from imageforge.progress import NULL_PROGRESS, ProgressSink
from imageforge.runtime import (
    ContainerGroup,
    Runtime,
    Snapshotter,
    check_foreign_exec,
    store_snapshotter,
)
from imageforge.store import Store

__all__ = ["HASHES_FILE", "Builder"]

HASHES_FILE = "file-hashes.json"  # in the store's build-cache folder


class Builder:
    """Builds Dockerfiles into images whose new layers live in ``store``; ``FROM``
    images come from ``resolver``. ``runtime``: the OCI runtime for RUN steps (default:
    the first that starts a trial container here); ``snapshotter``: where layers are
    unpacked and steps mounted (default: the store's); ``layer_format``: how the layers
    a build makes are written; ``containers``: the group its RUN steps' containers join
    (builders that share one are stopped together; see :meth:`ContainerGroup.stop`)."""

    def __init__(
        self,
        store: Store,
        resolver: BaseResolver,
        *,
        runtime: Runtime | None = None,
        snapshotter: Snapshotter | None = None,
        progress: ProgressSink = NULL_PROGRESS,
        layer_format: LayerFormat = LayerFormat(),  # noqa: B008 - frozen, shared safely
        containers: ContainerGroup | None = None,
    ) -> None:
        self.store = store
        self.services = BuildServices(
            store=store,
            snapshots=snapshotter or store_snapshotter(store),
            differ=OverlayDiffer(),
            cache=BuildCache(store),
            hashes=FileHashes(store.layout.build_cache / HASHES_FILE),
            bases=BaseImages(resolver),
            runtimes=RuntimeChoice(runtime, progress),
            layer_format=layer_format,
            progress=progress,
            containers=containers or ContainerGroup(),
        )

    def build(self, options: BuildOptions) -> BuildResult:
        """Build what ``options`` ask for; the target stage's image (unnamed: the caller
        names it), a report per step and the warnings."""
        # Absolute from here on: the caller's working directory is what a relative
        # context means, and runc would read a relative bind source against its bundle.
        context = options.context.absolute()
        if not context.is_dir():
            raise NotFound(f"build context {context} is not a directory")
        dockerfile = options.dockerfile.absolute() if options.dockerfile else context / "Dockerfile"
        if options.dockerfile_text is not None:  # -f - : the Dockerfile came on stdin
            dockerfile = context / "Dockerfile"
            df = parse(options.dockerfile_text, file="<stdin>")
        else:
            df = parse_file(dockerfile)
        if not df.stages:
            raise InvalidArgument(f"{dockerfile}: no FROM instruction, nothing to build")
        progress = self.services.progress
        plan = plan_build(
            df,
            options,
            base_env=self.services.bases.env,
            warn=lambda warning: progress.note(f"warning: {warning}"),
            platform=options.platform,
        )
        # What can be known to fail fails here, before any step runs: a foreign RUN
        # with no emulator, a base with no image for its stage's platform.
        for platform in plan.run_platforms():
            handler = check_foreign_exec(platform)
            if handler is not None:
                progress.note(f"RUN steps for {platform} run through {handler.interpreter}")
        for index in plan.stages:
            stage = plan.stage(index)
            if plan.earlier_stage(stage.base, index) is None:
                self.services.bases.get(stage.base, plan.stage_platform(index))
        with isolated_services(self.services, options) as services:
            return Execution(services, plan, options, context, dockerfile).run()
