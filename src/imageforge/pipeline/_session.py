"""One caller's access to images: the local store, registries and every transport.

A :class:`Session` opens what it needs on first use -- the store under its root (whose
directory is made then), one registry client -- and keeps every source it opened
readable until it is closed, so an image taken from it can be read for as long as the
session lives. ``open`` and ``write`` take any :data:`Location`: a registry is a source
and a sink like the store, a layout or an archive.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from imageforge.oci import Digest, Image, ImageIndex, Platform, Reference
from imageforge.pipeline._location import Location, parse_location
from imageforge.progress import NULL_PROGRESS, ProgressSink
from imageforge.store import Store
from imageforge.transports import TransportRef, open_source, write_image

if TYPE_CHECKING:
    from imageforge.remote import Client, PushOptions

# ``imageforge.remote`` (httpx: ~0.3 s of imports) is imported where a registry is
# used, so commands that never reach one (images, inspect, export) do not pay for it.

__all__ = ["PULL_JOBS", "Session"]

PULL_JOBS = 4  # layers downloaded at once from a registry


class Session:
    """The store (given, or opened under a root on first use), a registry client
    (``tls_verify``: check certificates, ``False`` also allows plain HTTP; ``authfile``:
    the credentials file, default as podman's), and a progress sink every operation
    reports to. Use it as a context manager, or call :meth:`close`."""

    def __init__(
        self,
        store: Store | Path,
        *,
        tls_verify: bool = True,
        authfile: Path | None = None,
        progress: ProgressSink = NULL_PROGRESS,
    ) -> None:
        self._store = store if isinstance(store, Store) else None
        self._root = store if isinstance(store, Path) else store.root
        self.tls_verify = tls_verify
        self.authfile = authfile
        self.progress = progress
        self._client: Client | None = None
        self._stack = ExitStack()
        self._lock = threading.RLock()  # open() enters opened(), which may make the store

    @property
    def store(self) -> Store:
        """The local store (its root directory is made on first use)."""
        with self._lock:
            if self._store is None:
                self._store = Store(self._root)
            return self._store

    @property
    def client(self) -> Client:
        """The registry client, opened on first use and closed with the session."""
        from imageforge.remote import Client

        with self._lock:
            if self._client is None:
                self._client = self._stack.enter_context(
                    Client(tls_verify=self.tls_verify, authfile=self.authfile)
                )
            return self._client

    def _store_for(self, location: TransportRef) -> Store | None:
        return self.store if location.transport == "store" else None

    @contextmanager
    def opened(self, location: Location | str) -> Iterator[Image | ImageIndex]:
        """The image or index at ``location``, readable inside the ``with`` block. A
        registry's is read lazily (manifests now, blobs when asked for)."""
        loc = parse_location(location) if isinstance(location, str) else location
        if isinstance(loc, Reference):
            from imageforge.remote import open_remote

            yield open_remote(self.client, loc)
            return
        with open_source(loc, self._store_for(loc)) as obj:
            yield obj

    def open(self, location: Location | str) -> Image | ImageIndex:
        """As :meth:`opened`, readable until the session closes."""
        source = self.opened(location)
        with self._lock:
            return self._stack.enter_context(source)

    def write(
        self,
        obj: Image | ImageIndex,
        location: Location | str,
        *,
        platform: Platform | None = None,
        jobs: int = 1,
        push_options: PushOptions | None = None,
    ) -> Digest:
        """Write ``obj`` to ``location``: a store name (verified, then named), a layout,
        an archive (``platform`` picks an index's image for ``docker-archive:``) or a
        registry (``push_options``: parallel uploads, a repository to mount from).
        ``jobs`` layers are copied at once into the store or a layout. Returns the
        digest written."""
        loc = parse_location(location) if isinstance(location, str) else location
        if isinstance(loc, Reference):
            from imageforge.remote import PushOptions, push

            options = push_options or PushOptions()
            return push(self.client, obj, loc, options=options, progress=self.progress)
        result = write_image(
            obj, loc, self._store_for(loc), progress=self.progress, platform=platform, jobs=jobs
        )
        return result.digest

    def close(self) -> None:
        """Close every source opened and the registry client."""
        self._stack.close()
        with self._lock:
            self._client = None

    def __enter__(self) -> Session:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
