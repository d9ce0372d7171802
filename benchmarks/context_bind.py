"""What ``RUN --mount=type=bind`` of a context with a ``.dockerignore`` costs before the
step runs, on context_tree.py's 100,000-file JavaScript-like tree (node_modules and .git
ignored, one directory of node_modules re-included by an exception).

    .venv/bin/python benchmarks/context_bind.py [--files 100000] [--repeat 3]

Measured, each the median of ``--repeat`` runs, in the same process (root: it mounts):

- view: the filtered view imageforge mounts (walk for ignored paths, whiteouts, overlay
  mount, unmount), with the tree's .dockerignore and with it less its exception line;
- digest: the bind's cache input, the content of what ``.dockerignore`` keeps (before
  issue #19 the whole tree was hashed, ignored files included: also measured);
- the alternatives the view was chosen over: a filtered copy and a hardlink farm of
  what is kept.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from imageforge.builder._context_view import context_view
from imageforge.builder._copy import FileHashes, plan_copy
from imageforge.dockerfile import Copy, DockerIgnore, parse_dockerignore

sys.path.insert(0, str(Path(__file__).parent))
from context_tree import build_tree  # noqa: E402  (a script beside this one)


def _median(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(ctx: Path, work: Path, text: str, repeat: int) -> None:
    ignore = parse_dockerignore(text)
    scratch = work / "scratch"

    def view() -> None:
        with ExitStack() as stack:
            context_view(ctx, ".", ignore, scratch=scratch, stack=stack)

    def digest(with_ignore: DockerIgnore) -> Callable[[], object]:
        probe = Copy(sources=(".",), dest="/x")

        def run() -> object:  # a fresh FileHashes: nothing remembered
            plan = plan_copy(probe, context=ctx, ignore=with_ignore, workdir=None, where="b")
            return plan.digest(FileHashes())

        return run

    def skip(directory: str, names: list[str]) -> set[str]:
        rel = os.path.relpath(directory, ctx)
        out = set()
        for name in names:
            path = name if rel == "." else f"{rel}/{name}"
            if ignore.is_ignored(path) and not (
                os.path.isdir(f"{directory}/{name}") and ignore.may_reinclude_below(path)
            ):
                out.add(name)
        return out

    def filtered(link: bool) -> Callable[[], object]:
        def run() -> None:
            target = work / "copy"
            shutil.copytree(
                ctx,
                target,
                symlinks=True,
                ignore=skip,
                copy_function=os.link if link else shutil.copy2,
            )
            shutil.rmtree(target)

        return run

    kept = sum(
        1
        for d, _, files in os.walk(ctx)
        for f in files
        if not ignore.is_ignored(os.path.relpath(f"{d}/{f}", ctx))
    )
    print(f"{kept} files kept by .dockerignore {text.split()}")
    rows = [
        ("view (walk + whiteouts + overlay mount)", _median(view, repeat)),
        ("digest of what is kept (now)", _median(digest(ignore), repeat)),
        ("digest of the whole tree (before)", _median(digest(DockerIgnore()), repeat)),
        ("alternative: filtered copy", _median(filtered(False), repeat)),
        ("alternative: hardlink farm", _median(filtered(True), repeat)),
    ]
    for name, seconds in rows:
        print(f"  {name:45} {seconds * 1000:9.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="context-bind-", dir="/var/tmp") as tmp:
        ctx = Path(tmp) / "ctx"
        ctx.mkdir()
        build_tree(ctx, args.files)
        text = (ctx / ".dockerignore").read_text()
        print(f"tree: {args.files} files")
        measure(ctx, Path(tmp), text, args.repeat)
        # without the exception the view need not look inside node_modules at all
        plain = "\n".join(line for line in text.splitlines() if not line.startswith("!"))
        measure(ctx, Path(tmp), plain, args.repeat)


if __name__ == "__main__":
    main()
