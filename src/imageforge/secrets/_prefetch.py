"""An image's entry pass read ahead in a thread of its own, so the layers are inflated and
hashed (zlib and hashlib release the GIL) while the caller matches the files already
read: about a third less wall time on two cores than one thread doing both.

The reading thread runs :meth:`~imageforge.layers.FsView.every_entry` and, for each
entry, asks ``choose`` (in that thread) whether its content is wanted; ``choose`` may read
the first bytes (to tell text from binary) and returns the rules to try and those bytes,
or None. The content of a chosen file follows in windows of the sizes the engine asks
for. At most :data:`DEPTH` windows wait in the queue, so memory stays bounded; an error
in the reading thread is raised in the caller's, and leaving the loop early stops the
thread.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final

from imageforge.errors import ImageforgeError
from imageforge.layers import Entry, FsView, LayerFile
from imageforge.secrets._engine import WINDOW

__all__ = ["DEPTH", "Ahead", "read_ahead"]

DEPTH: Final = 16
"""Windows (of at most 2 MiB) read ahead at most."""

_BATCH: Final = 256

Choose = Callable[[LayerFile], "tuple[frozenset[int], bytes] | None"]


class _Content:
    """``read(n)`` over the windows of one file as the reading thread queues them."""

    def __init__(self, take: Callable[[], tuple[Any, ...]]) -> None:
        self._take = take
        self._pending = b""
        self.ended = False

    def read(self, n: int = -1) -> bytes:
        if not self._pending and not self.ended:
            item = self._take()
            if item[0] == "end":
                self.ended = True
            else:
                self._pending = item[1]
        if n < 0 or len(self._pending) <= n:
            out, self._pending = self._pending, b""
        else:
            out, self._pending = self._pending[:n], self._pending[n:]
        return out

    def drain(self) -> None:
        while not self.ended:
            self._pending = b""
            self.read(WINDOW)


@dataclass
class Ahead:
    """One entry of the pass: its layer, position, header and, when ``choose`` wanted
    it, the rules to try, the first bytes and ``read`` for the rest."""

    index: int
    position: int
    entry: Entry
    rules: frozenset[int] | None = None
    head: bytes = b""
    read: Callable[[int], bytes] | None = None


def read_ahead(view: FsView, choose: Choose) -> Iterator[Ahead]:
    """The entries of ``view``'s entry pass, read in another thread (see the module)."""
    items: queue.Queue[tuple[Any, ...]] = queue.Queue(maxsize=DEPTH)
    stop = threading.Event()

    def put(item: tuple[Any, ...]) -> bool:
        while not stop.is_set():
            try:
                items.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        # entries without content go in batches: a queue hand-over per entry would cost
        # more than the entry
        batch: list[Ahead] = []
        try:
            for lf in view.every_entry():
                try:
                    chosen = choose(lf)
                except ImageforgeError:
                    chosen = None  # the view names the damaged layer when it reads on
                if chosen is None:
                    batch.append(Ahead(lf.index, lf.position, lf.entry))
                    if len(batch) >= _BATCH:
                        if not put(("batch", batch)):
                            return
                        batch = []
                    continue
                if batch and not put(("batch", batch)):
                    return
                batch = []
                if not put(("entry", lf, chosen)):
                    return
                try:
                    size = WINDOW - len(chosen[1])  # what the engine asks for first
                    while chunk := lf.read(size):
                        if not put(("data", chunk)):
                            return
                        size = WINDOW
                except ImageforgeError:
                    pass
                if not put(("end",)):
                    return
            if batch:
                put(("batch", batch))
            put(("done",))
        except BaseException as exc:  # raised again in the caller's thread
            put(("error", exc))

    reader = threading.Thread(target=produce, name="imageforge-secrets-read", daemon=True)
    reader.start()
    try:
        while True:
            item = items.get()
            if item[0] == "done":
                return
            if item[0] == "error":
                raise item[1]
            if item[0] == "batch":
                yield from item[1]
                continue
            lf, chosen = item[1], item[2]
            content = _Content(items.get)
            yield Ahead(lf.index, lf.position, lf.entry, chosen[0], chosen[1], content.read)
            content.drain()
    finally:
        stop.set()
        reader.join()
