"""Request and response bodies: read with a limit, received in chunks, streamed from a
file; and the one way handlers call the synchronous services (a worker thread)."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Callable
from typing import IO, TypeVar, TypeVarTuple

from anyio import to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from imageforge.registry._http import ZEROCOPY_SEND

__all__ = ["CHUNK", "FileSliceResponse", "read_body", "receive", "run", "stream_file"]

CHUNK = 1 << 20
_T = TypeVar("_T")
_Ts = TypeVarTuple("_Ts")


async def run(fn: Callable[[*_Ts], _T], *args: *_Ts) -> _T:
    """``fn(*args)`` in a worker thread (the services are synchronous)."""
    return await to_thread.run_sync(fn, *args)


async def read_body(request: Request, limit: int, too_large: Callable[[], Exception]) -> bytes:
    """The whole body, refused with ``too_large()`` as soon as it is over ``limit``
    bytes (by its Content-Length, or while it arrives)."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise too_large()
    parts: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise too_large()
        parts.append(chunk)
    return b"".join(parts)


async def receive(request: Request, write: Callable[[bytes], object]) -> None:
    """Pass the body to ``write`` (in a worker thread) in pieces of about CHUNK bytes."""
    buf: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        buf.append(chunk)
        size += len(chunk)
        if size >= CHUNK:
            await run(write, b"".join(buf))
            buf, size = [], 0
    if buf:
        await run(write, b"".join(buf))


async def stream_file(f: IO[bytes], length: int) -> AsyncIterator[bytes]:
    """``length`` bytes of ``f`` in chunks; ``f`` is closed at the end."""
    try:
        remaining = length
        while remaining > 0:
            chunk = await run(f.read, min(CHUNK, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk
    finally:
        await run(f.close)


def _has_fd(f: IO[bytes]) -> bool:
    try:
        f.fileno()
    except (AttributeError, OSError, io.UnsupportedOperation):
        return False
    return True


class FileSliceResponse(Response):
    """``length`` bytes of the open file ``f`` from ``offset`` (where ``f`` is now): sent
    by the kernel (``sendfile``) where the server offers ``http.response.zerocopysend``
    and ``f`` is a real file, else streamed in CHUNK pieces. ``f`` is closed at the end."""

    def __init__(
        self, f: IO[bytes], offset: int, length: int, status_code: int, headers: dict[str, str]
    ) -> None:
        super().__init__(b"", status_code, {**headers, "Content-Length": str(length)})
        self._file = f
        self._offset = offset
        self._length = length

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        zerocopy = ZEROCOPY_SEND in (scope.get("extensions") or {}) and _has_fd(self._file)
        try:
            start = {"type": "http.response.start", "status": self.status_code}
            await send({**start, "headers": self.raw_headers})
            if zerocopy:
                await send(
                    {
                        "type": ZEROCOPY_SEND,
                        "file": self._file,
                        "offset": self._offset,
                        "count": self._length,
                        "more_body": False,
                    }
                )
                return
            async for chunk in stream_file(self._file, self._length):
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            await run(self._file.close)
