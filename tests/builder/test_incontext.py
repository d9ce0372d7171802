"""Source paths of COPY/ADD resolved inside the build context, component by component, on
real directories with hostile symlinks: a path whose resolution leaves the context is
refused naming the symlink, .dockerignore applies to where a path really leads, and
symlinks that stay inside keep working as BuildKit follows them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from imageforge.builder._context_view import ignored_below
from imageforge.builder._copy import CopyPlan, apply_copy, plan_copy
from imageforge.builder._incontext import Found, Resolved, resolve_in_context
from imageforge.dockerfile import Add, Copy, DockerIgnore, parse_dockerignore
from imageforge.errors import InvalidArgument, NotFound

HOST_SECRET = "host-only secret\n"


@pytest.fixture
def ctx(tmp_path: Path) -> Path:
    """A context beside a host directory it must never read from."""
    host = tmp_path / "host"
    host.mkdir()
    (host / "shadow").write_text(HOST_SECRET)
    ctx = tmp_path / "ctx"
    (ctx / "sub" / "deep").mkdir(parents=True)
    (ctx / "sub" / "deep" / "file.txt").write_text("deep\n")
    (ctx / "app.py").write_text("print()\n")
    (ctx / ".env").write_text("TOKEN=context-secret\n")
    (ctx / "out-abs").symlink_to(host)  # absolute, out
    (ctx / "sub" / "out-rel").symlink_to("../../host")  # relative, climbs out
    (ctx / "hop").symlink_to("sub/out-rel")  # a chain that ends outside
    (ctx / "alias").symlink_to(".")  # the context itself under another name
    (ctx / "in-rel").symlink_to("sub/deep")
    (ctx / "in-abs").symlink_to(ctx / "sub")  # absolute, but inside the context
    (ctx / "loop").symlink_to("loop")
    return ctx


def _resolve(ctx: Path, name: str, ignore: str = "") -> Resolved:
    return resolve_in_context(
        ctx, name, parse_dockerignore(ignore, source=".dockerignore"), what="Dockerfile:2: COPY"
    )


def _plan(ctx: Path, *sources: str, ignore: str = "", add: bool = False) -> CopyPlan:
    cls = Add if add else Copy
    return plan_copy(
        cls(sources=sources, dest="/x/"),
        context=ctx,
        ignore=parse_dockerignore(ignore, source=".dockerignore"),
        workdir=None,
        where="Dockerfile:2",
    )


@pytest.mark.parametrize(
    ("source", "link", "target"),
    [
        ("out-abs/shadow", "out-abs", "/host"),
        ("out-abs", "out-abs", "/host"),
        ("sub/out-rel/shadow", "sub/out-rel", "../../host"),
        ("hop/shadow", "sub/out-rel", "../../host"),
        ("in-abs/out-rel/shadow", "sub/out-rel", "../../host"),
        ("o*/shadow", "out-abs", "/host"),
        ("sub/*/shadow", "sub/out-rel", "../../host"),
    ],
)
def test_a_path_whose_resolution_leaves_the_context_is_refused(
    ctx: Path, source: str, link: str, target: str
) -> None:
    with pytest.raises(InvalidArgument) as caught:
        _plan(ctx, source)
    message = str(caught.value)
    assert message.startswith("Dockerfile:2: COPY source")
    assert f"{link!r} is a symlink to" in message and "outside the build context" in message
    assert target.lstrip("/") in message
    assert caught.value.hint and "symlink" in caught.value.hint


def test_refused_for_add_and_for_every_source_of_a_list(ctx: Path) -> None:
    with pytest.raises(InvalidArgument, match="ADD source 'out-abs/shadow'"):
        _plan(ctx, "app.py", "out-abs/shadow", add=True)


def test_an_ignored_escaping_symlink_is_never_followed(ctx: Path) -> None:
    # a wildcard skips it, a named path through it is excluded (not an escape)
    plan = _plan(ctx, "*", ignore="out-abs\nhop\nloop\n")
    names = {s.name for s in plan.sources}
    assert "out-abs" not in names and "app.py" in names
    with pytest.raises(NotFound, match="excluded by .dockerignore"):
        _plan(ctx, "out-abs/shadow", ignore="out-abs\n")


def test_too_many_symlinks_is_a_clear_error(ctx: Path) -> None:
    with pytest.raises(InvalidArgument, match="too many levels of symbolic links"):
        _plan(ctx, "loop")


def test_symlinks_inside_the_context_are_followed(ctx: Path, tmp_path: Path) -> None:
    for name, real in [
        ("in-rel/file.txt", "sub/deep/file.txt"),
        ("in-abs/deep/file.txt", "sub/deep/file.txt"),
        ("alias/alias/app.py", "app.py"),
        ("alias", "."),
    ]:
        found = _resolve(ctx, name)
        assert found == resolve_in_context(ctx, real, DockerIgnore(), what="w")
        assert found.found is Found.OK and found.real == real
    # and they copy what they point at, under the name written
    root = tmp_path / "rootfs"
    root.mkdir()
    plan = _plan(ctx, "in-rel/file.txt", "in-abs")
    apply_copy(plan, root)
    assert (root / "x" / "file.txt").read_text() == "deep\n"
    assert (root / "x" / "deep" / "file.txt").read_text() == "deep\n"
    assert (root / "x" / "out-rel").is_symlink()  # a symlink inside a copied dir stays one
    assert os.readlink(root / "x" / "out-rel") == "../../host"


def test_dockerignore_applies_to_where_an_alias_leads(ctx: Path, tmp_path: Path) -> None:
    for source in ("alias/.env", "alias/alias/.env"):
        with pytest.raises(NotFound, match=r"excluded by .dockerignore \(it leads to '.env'"):
            _plan(ctx, source, ignore=".env\n")
    with pytest.raises(NotFound, match="excluded by .dockerignore"):
        _plan(ctx, "alias/sub/deep/file.txt", ignore="sub\n")  # an ignored dir on the way
    with pytest.raises(NotFound, match="excluded by .dockerignore"):
        _plan(ctx, "in-rel/file.txt", ignore="in-rel\n")  # an ignored symlink
    # a wildcard through the alias drops the ignored match instead of reading it
    plan = _plan(ctx, "alias/*", ignore=".env\nout-abs\nhop\nloop\n")
    names = [s.name for s in plan.sources]
    assert names == ["alias/alias", "alias/app.py", "alias/in-abs", "alias/in-rel", "alias/sub"]
    with pytest.raises(NotFound, match="every match is excluded by .dockerignore"):
        _plan(ctx, "alias/.e*", ignore=".env\n")
    # a directory copied through the alias is filtered as the real directory is
    root = tmp_path / "rootfs"
    root.mkdir()
    apply_copy(_plan(ctx, "alias", ignore=".env\nsub/deep\n"), root)
    assert (root / "x" / "app.py").exists()
    assert not (root / "x" / ".env").exists()
    assert not (root / "x" / "sub" / "deep").exists()


def test_an_exception_pattern_below_an_ignored_directory_still_reaches_its_file(
    ctx: Path,
) -> None:
    plan = _plan(ctx, "alias/sub/deep/file.txt", ignore="sub\n!sub/deep/file.txt\n")
    assert plan.sources[0].real == "sub/deep/file.txt"


def test_ignored_below_lists_the_topmost_ignored_paths(ctx: Path) -> None:
    ignore = parse_dockerignore(".env\nsub\n!sub/deep/file.txt\nout-*\n", source=".dockerignore")
    assert ignored_below(ctx, ".", ignore) == [".env", "out-abs", "sub/out-rel"]
    ignore = parse_dockerignore(".env\nsub\n", source=".dockerignore")
    assert ignored_below(ctx, ".", ignore) == [".env", "sub"]
    assert ignored_below(ctx / "sub", "sub", parse_dockerignore("sub/deep\n")) == ["deep"]
    assert ignored_below(ctx, ".", DockerIgnore()) == []
