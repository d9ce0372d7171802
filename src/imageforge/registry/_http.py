"""uvicorn's HTTP/1.1 protocol (h11) with a header timeout.

uvicorn closes idle keep-alive connections but has no limit on how long a client may
take to send a request's headers: a client trickling a byte a second keeps a
connection (and a descriptor) forever, and enough of them exhaust the server. As Go's
``ReadHeaderTimeout`` (distribution) and nginx's ``client_header_timeout``, a connection
whose request headers are not complete ``header_timeout`` seconds after its first byte
(or after it opened) is answered 408 and closed.

The close lingers, as nginx's ``lingering_close``: the answer is followed by a FIN and
whatever the client still sends is read and dropped for up to ``LINGER`` seconds. Closing
at once with the client's bytes unread (or arriving after) makes the kernel send a reset,
which discards the 408 from the client's receive buffer before it reads it."""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

__all__ = ["header_timeout_protocol"]

LINGER = 2.0


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

    def _arm(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout, self._expired)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            return  # answered 408: read and dropped until the client closes
        if self.conn.their_state is h11.IDLE:
            self._arm()  # the first bytes of a (next) request
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._disarm()  # its headers are in

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
        if not self.transport.can_write_eof():
            self.transport.close()
            return
        self._lingering = True
        self.transport.write_eof()
        self.loop.call_later(LINGER, self.transport.close)


def header_timeout_protocol(seconds: float) -> type[H11Protocol]:
    """The protocol class for uvicorn's ``http=``, closing slow headers after ``seconds``."""
    return type("HeaderTimeoutH11", (_HeaderTimeoutH11,), {"header_timeout": seconds})
