"""``Builder`` through the library API, no CLI: real builds with real runc over real
overlay mounts, from a base image in the store."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from imageforge.builder import BaseResolver, Builder, BuildOptions, LayerFormat
from imageforge.builder._schedule import run_stages
from imageforge.errors import InvalidArgument, NotFound, StepFailed
from imageforge.oci import Image, media
from imageforge.progress import RecordingProgress
from imageforge.runtime import OverlaySnapshotter, Snapshotter, store_snapshotter
from imageforge.store import Store
from imageforge.transports import open_source, select_platform
from tests.conftest import requires_root

DOCKERFILE = """\
FROM busybox AS assets
RUN echo "asset" > /asset.txt
FROM busybox AS tools
RUN printf '#!/bin/sh\\necho tool:$1\\n' > /tool && chmod 755 /tool
FROM busybox
ARG GREETING=hello
ENV APP=/srv/app
WORKDIR $APP
COPY greet.txt .
COPY --from=tools /tool /usr/local/bin/tool
RUN --mount=type=bind,from=assets,target=/assets cat /assets/asset.txt > from-mount.txt
RUN <<EOF
echo "$GREETING from a heredoc" > heredoc.txt
EOF
RUN rm /etc/group
USER nobody
CMD ["tool", "x"]
"""


@contextmanager
def _store_resolver(store: Store) -> Iterator[BaseResolver]:
    """FROM through the store, as a library caller would write it."""
    with ExitStack() as stack:

        def resolve(name: str, platform: str | None) -> Image:
            return select_platform(stack.enter_context(open_source(name, store)))

        yield resolve


@pytest.fixture
def store(store_with_base: Path) -> Store:
    return Store(store_with_base)


@pytest.fixture
def context(tmp_path: Path) -> Path:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    (ctx / "greet.txt").write_text("greetings\n")
    return ctx


def _files(snapshots: Snapshotter, image: Image, *paths: str) -> dict[str, str | None]:
    """What ``image``'s filesystem holds at ``paths`` (None: nothing there)."""
    with snapshots.prepare(snapshots.ensure(image.layers()), readonly=True) as view:
        root = view.merged
        return {p: (root / p).read_text() if (root / p).is_file() else None for p in paths}


@requires_root
@pytest.mark.slow
def test_a_multi_stage_build_through_the_library(store: Store, context: Path) -> None:
    progress = RecordingProgress()
    names = [e.name for e in store.refs.all()]
    with _store_resolver(store) as resolver:
        builder = Builder(store, resolver, progress=progress)
        result = builder.build(BuildOptions(context=context, labels={"team": "build"}))
    image = result.image
    config = image.config().data["config"]
    assert config["Cmd"] == ["tool", "x"] and config["User"] == "nobody"
    assert config["WorkingDir"] == "/srv/app" and config["Labels"] == {"team": "build"}
    assert "APP=/srv/app" in config["Env"]
    assert _files(
        store_snapshotter(store),
        image,
        "srv/app/greet.txt",
        "srv/app/from-mount.txt",
        "srv/app/heredoc.txt",
        "usr/local/bin/tool",
        "etc/group",
        "asset.txt",
    ) == {
        "srv/app/greet.txt": "greetings\n",
        "srv/app/from-mount.txt": "asset\n",  # a stage only a RUN mount uses was built
        "srv/app/heredoc.txt": "hello from a heredoc\n",
        "usr/local/bin/tool": "#!/bin/sh\necho tool:$1\n",
        "etc/group": None,
        "asset.txt": None,
    }
    final = [s for s in result.steps if s.instruction.startswith(("ARG", "COPY greet", "RUN rm"))]
    assert [(s.kind, s.cached) for s in final] == [
        ("metadata", False),
        ("fs", False),
        ("fs", False),
    ]
    assert all(s.layer is not None and s.size > 0 for s in final if s.kind == "fs")
    # every new layer is a blob in the store, none of them named: the caller names images
    assert all(store.blobs.exists(layer.digest) for layer in image.layers())
    assert [e.name for e in store.refs.all()] == names
    notes = [e.text or "" for e in progress.events if e.kind == "note"]
    assert "stage 2: [1/11] FROM busybox" in "\n".join(notes)


@requires_root
@pytest.mark.slow
def test_the_same_build_again_is_cached_and_gives_the_same_image(
    store: Store, context: Path
) -> None:
    with _store_resolver(store) as resolver:
        builder = Builder(store, resolver)
        first = builder.build(BuildOptions(context=context, source_date_epoch=0))
        again = builder.build(BuildOptions(context=context, source_date_epoch=0))
        (context / "greet.txt").write_text("changed\n")
        changed = builder.build(BuildOptions(context=context, source_date_epoch=0))
    assert again.image.digest == first.image.digest
    assert all(s.cached for s in again.steps if s.kind == "fs")
    cached = {s.instruction: s.cached for s in changed.steps if s.kind == "fs"}
    assert cached["COPY greet.txt ."] is False and cached["WORKDIR /srv/app"] is True
    assert changed.image.digest != first.image.digest


@requires_root
@pytest.mark.slow
def test_a_failing_run_raises_located_and_leaves_nothing_mounted(
    store: Store, tmp_path: Path
) -> None:
    ctx = tmp_path / "fail"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox\nRUN echo before\nRUN echo oops; exit 3\n")
    snapshots = OverlaySnapshotter(tmp_path / "elsewhere")
    with _store_resolver(store) as resolver, pytest.raises(StepFailed) as exc:
        Builder(store, resolver, snapshotter=snapshots).build(BuildOptions(context=ctx))
    assert exc.value.exit_code == 3 and exc.value.output[-1] == "oops"
    assert exc.value.location is not None and exc.value.location.line == 3
    assert "exited with code 3" in exc.value.message
    # the injected snapshotter was used, and nothing of the failed step is left
    assert os.listdir(snapshots.root / "active") == []
    assert os.listdir(snapshots.layers) != ["empty"]
    assert not store.layout.snapshots.exists() or not any(
        (store.layout.snapshots / "active").iterdir()
    )
    assert not any(store.blobs.ingest_dir.iterdir())


@requires_root
@pytest.mark.slow
def test_the_layer_format_is_the_builder_s(store: Store, tmp_path: Path) -> None:
    ctx = tmp_path / "zstd"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox\nRUN echo z > /z\n")
    with _store_resolver(store) as resolver:
        builder = Builder(store, resolver, layer_format=LayerFormat("zstd"))
        image = builder.build(BuildOptions(context=ctx, no_cache=True)).image
    assert image.layers()[-1].media_type == media.OCI_LAYER_ZSTD


def test_bad_inputs_are_refused_before_anything_runs(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")

    def resolver(name: str, platform: str | None) -> Image:
        raise NotFound(f"image {name!r} is not in the store")

    builder = Builder(store, resolver)
    with pytest.raises(NotFound, match="is not a directory"):
        builder.build(BuildOptions(context=tmp_path / "missing"))
    (tmp_path / "Dockerfile").write_text("ARG X=1\n")
    with pytest.raises(InvalidArgument, match="no FROM instruction"):
        builder.build(BuildOptions(context=tmp_path))
    (tmp_path / "Dockerfile").write_text("FROM scratch\nRUN true\n")
    with pytest.raises(InvalidArgument, match="--target 'nope'"):
        builder.build(BuildOptions(context=tmp_path, target="nope"))
    assert not store.layout.snapshots.exists() or not any(
        (store.layout.snapshots / "active").iterdir()
    )


def test_stages_wait_only_for_what_they_use() -> None:
    both = threading.Barrier(2, timeout=10)  # passes only if 0 and 1 run at once
    done: list[int] = []

    def job(index: int) -> None:
        if index in (0, 1):
            both.wait()
        done.append(index)

    run_stages((0, 1, 2), {0: (), 1: (), 2: (0, 1)}, job)
    assert sorted(done[:2]) == [0, 1] and done[2] == 2


def test_a_failed_stage_fails_the_stages_that_use_it() -> None:
    ran: list[int] = []

    def job(index: int) -> None:
        if index == 0:
            raise StepFailed("stage 0 failed")
        ran.append(index)

    with pytest.raises(StepFailed, match="stage 0 failed"):
        run_stages((0, 1, 2), {0: (), 1: (), 2: (0,)}, job)
    assert 2 not in ran
