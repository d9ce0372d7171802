"""The stages of a build run in order, independent ones at the same time: each waits
only for the earlier stages it uses, and a failed one fails every stage that waits for it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

__all__ = ["run_stages"]


def _after(waits: Sequence[Future[None]], job: Callable[[int], None], index: int) -> None:
    for dep in waits:
        dep.result()  # a failed dependency fails this stage too
    job(index)


def run_stages(
    order: Sequence[int],
    deps: Mapping[int, Sequence[int]],
    job: Callable[[int], None],
    *,
    on_error: Callable[[], None] | None = None,
) -> None:
    """Run ``job(stage)`` for each stage of ``order`` (dependencies first) once the
    stages ``deps[stage]`` are done; raises the first failure in ``order``. When a
    stage fails or the wait is interrupted (Ctrl-C reaches only this, the main thread),
    ``on_error`` is called before the stages still running are waited for: it stops
    their work, as BuildKit cancels a build's other branches."""
    if len(order) == 1:
        job(order[0])
        return
    with ThreadPoolExecutor(max_workers=len(order)) as pool:
        futures: dict[int, Future[None]] = {}
        try:
            for index in order:
                waits = [futures[d] for d in deps.get(index, ())]
                futures[index] = pool.submit(_after, waits, job, index)
            for index in order:
                futures[index].result()
        except BaseException:
            if on_error is not None:
                on_error()
            raise
