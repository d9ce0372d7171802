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
unread."""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

__all__ = ["header_timeout_protocol"]

LINGER = 2.0


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
