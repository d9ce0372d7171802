"""uvicorn's HTTP/1.1 protocol (h11) with a header timeout and lingering closes.

uvicorn closes idle keep-alive connections but has no limit on how long a client may
take to send a request's headers: a client trickling a byte a second keeps a
connection (and a descriptor) forever, and enough of them exhaust the server. As Go's
``ReadHeaderTimeout`` (distribution) and nginx's ``client_header_timeout``, a connection
whose request headers are not complete ``header_timeout`` seconds after its first byte
(or after it opened) is answered 408 and closed.

The close lingers, as nginx's ``lingering_close``: the answer is followed by a FIN and
whatever the client still sends is read and dropped for up to ``LINGER`` seconds. Closing
at once with the client's bytes unread (or arriving after) makes the kernel send a reset,
which discards the 408 from the client's receive buffer before it reads it. The same
holds for every answer given while the client is still sending its body (a 507 for an
upload that filled the disk, a 413, a refused quota): uvicorn closes such a connection at
once, so the transport it is given closes by lingering while the request body is
unread.

It also offers the ASGI zero-copy send extension (``http.response.zerocopysend``, which
uvicorn itself does not implement) on plain-TCP connections: a response that gives an
open file, an offset and a count has the kernel send the bytes from the page cache with
``sendfile`` (``loop.sendfile``), never copying them through Python. h11 counts the bytes
as a pass-through body (``send_with_data_passthrough``), so its Content-Length check
still holds."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import h11
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

__all__ = ["ZEROCOPY_SEND", "header_timeout_protocol"]

LINGER = 2.0
ZEROCOPY_SEND = "http.response.zerocopysend"

_Message = MutableMapping[str, Any]
_Send = Callable[[_Message], Awaitable[None]]
_Receive = Callable[[], Awaitable[_Message]]
_App = Callable[[_Message, _Receive, _Send], Awaitable[None]]


class _FileRegion:
    """A body sent by ``sendfile``, as h11 sees it: a length, no bytes."""

    def __init__(self, count: int) -> None:
        self.count = count

    def __len__(self) -> int:
        return self.count


class _ZeroCopyApp:
    """The ASGI app, with ``http.response.zerocopysend`` offered in the scope of every
    plain-TCP request and its messages sent by the protocol's ``sendfile``."""

    def __init__(self, protocol: _HeaderTimeoutH11, app: _App) -> None:
        self._protocol = protocol
        self._app = app

    async def __call__(self, scope: _Message, receive: _Receive, send: _Send) -> None:
        if scope["type"] != "http" or not self._protocol.can_sendfile():
            await self._app(scope, receive, send)
            return
        scope["extensions"] = {**(scope.get("extensions") or {}), ZEROCOPY_SEND: {}}

        async def sending(message: _Message) -> None:
            if message["type"] != ZEROCOPY_SEND:
                await send(message)
                return
            if await self._protocol.send_file(message) and not message.get("more_body"):
                await send({"type": "http.response.body", "body": b"", "more_body": False})

        await self._app(scope, receive, sending)


class _LingeringTransport:
    """The connection's transport, whose ``close`` lingers while the request body is
    still coming (see the module's docstring); everything else is the transport's."""

    def __init__(self, transport: asyncio.Transport, protocol: _HeaderTimeoutH11) -> None:
        self._transport = transport
        self._protocol = protocol

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)

    def close(self) -> None:
        if self._protocol.body_unread() and self._protocol.linger():
            return
        self._transport.close()


class _HeaderTimeoutH11(H11Protocol):
    header_timeout = 20.0

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.app = _ZeroCopyApp(self, self.app)
        self._header_timer: asyncio.TimerHandle | None = None
        self._lingering = False
        self._raw: asyncio.Transport | None = None

    def _arm(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout, self._expired)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._raw = transport
        wrapped: Any = _LingeringTransport(transport, self)
        super().connection_made(wrapped)
        self._arm()

    def can_sendfile(self) -> bool:
        """A plain TCP connection (TLS needs the bytes in user space to encrypt them)."""
        raw = self._raw
        return raw is not None and raw.get_extra_info("sslcontext") is None

    async def send_file(self, message: _Message) -> bool:
        """Send ``count`` bytes of ``file`` from ``offset`` as (part of) the response
        body: with ``sendfile`` where the transport can, else in chunks by asyncio's
        fallback. False if the client is gone (nothing more may be sent)."""
        cycle = self.cycle
        raw = self._raw
        if cycle is None or raw is None or cycle.disconnected or raw.is_closing():
            return False
        if self.flow.write_paused:
            await self.flow.drain()
        count = int(message["count"])
        region: Any = _FileRegion(count)  # h11 takes any sized object for passthrough
        parts: list[object] = list(
            self.conn.send_with_data_passthrough(h11.Data(data=region)) or []
        )
        if len(parts) != 1 or not isinstance(parts[0], _FileRegion):
            raise RuntimeError("zero-copy send needs a response with a Content-Length")
        try:
            sent = await self.loop.sendfile(
                raw, message["file"], int(message.get("offset", 0)), count
            )
        except (ConnectionError, OSError):
            sent = -1  # the client went away
        if sent != count:  # or the file was shorter: the response cannot end well
            cycle.disconnected = True
            raw.close()
            return False
        return True

    def body_unread(self) -> bool:
        """Whether the client is still sending the request being answered."""
        return self.conn.their_state is h11.SEND_BODY

    def linger(self) -> bool:
        """Half-close (FIN after what was written), read and drop what the client still
        sends, close after ``LINGER`` seconds or when the client closes; False when the
        transport cannot half-close (the caller closes it at once)."""
        raw = self._raw
        if raw is None or raw.is_closing() or not raw.can_write_eof():
            return False
        if not self._lingering:
            try:
                raw.write_eof()
            except OSError:  # the client is already gone: nothing to linger for
                return False
            self._lingering = True
            self._disarm()
            raw.resume_reading()  # uvicorn may have paused it while the app was busy
            self.loop.call_later(LINGER, raw.close)
        return True

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            return  # answered 408: read and dropped until the client closes
        if self.conn.their_state is h11.IDLE:
            self._arm()  # the first bytes of a (next) request
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._disarm()  # its headers are in

    def eof_received(self) -> None:
        if self._lingering and self._raw is not None:
            self._raw.close()  # the client has stopped sending: nothing left to drop

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _expired(self) -> None:
        self._header_timer = None
        if self.conn.their_state is not h11.IDLE or self.transport.is_closing():
            return
        body = f"request headers not received within {self.header_timeout:g} s\n".encode()
        self.transport.write(
            b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
            b"connection: close\r\ncontent-length: " + str(len(body)).encode() + b"\r\n\r\n" + body
        )
        if not self.linger():
            self.transport.close()


def header_timeout_protocol(seconds: float) -> type[H11Protocol]:
    """The protocol class for uvicorn's ``http=``, closing slow headers after ``seconds``."""
    return type("HeaderTimeoutH11", (_HeaderTimeoutH11,), {"header_timeout": seconds})
