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
    order: Sequence[int], deps: Mapping[int, Sequence[int]], job: Callable[[int], None]
) -> None:
    """Run ``job(stage)`` for each stage of ``order`` (dependencies first) once the
    stages ``deps[stage]`` are done; raises the first failure in ``order``."""
    if len(order) == 1:
        job(order[0])
        return
    with ThreadPoolExecutor(max_workers=len(order)) as pool:
        futures: dict[int, Future[None]] = {}
        for index in order:
            waits = [futures[d] for d in deps.get(index, ())]
            futures[index] = pool.submit(_after, waits, job, index)
        for index in order:
            futures[index].result()
