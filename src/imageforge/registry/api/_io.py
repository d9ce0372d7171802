"""Request and response bodies: read with a limit, received in chunks, streamed from a
file; and the one way handlers call the synchronous services (a worker thread)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import IO, TypeVar, TypeVarTuple

from anyio import to_thread
from starlette.requests import Request

__all__ = ["CHUNK", "read_body", "receive", "run", "stream_file"]

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
