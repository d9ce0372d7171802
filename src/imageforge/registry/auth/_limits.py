"""A limit on failed logins, so passwords cannot be guessed at the speed of the server.

Two counters over a sliding window: failures for one user from one address (default 10
in 5 minutes), and failures from one address for any user (default 100: password
spraying). Past either, every login of that pair (or address) is answered 429 with
Retry-After until the window has moved on, right password or not; a success clears the
pair's count. Neither harbor nor distribution has such a limit built in.

Counts live in the process (each ``registry serve`` process counts its own); memory is
bounded (``max_keys``), forgetting the oldest first.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass

__all__ = ["Lockout", "LoginLimiter"]


@dataclass(frozen=True)
class Lockout:
    retry_after: int  # seconds
    why: str
    first: bool  # the first refusal of this lockout (the one worth an audit entry)


class LoginLimiter:
    def __init__(
        self,
        per_user: int = 10,
        per_address: int = 100,
        window: float = 300.0,
        max_keys: int = 100_000,
    ) -> None:
        self.per_user = per_user
        self.per_address = per_address
        self.window = window
        self.max_keys = max_keys
        self._lock = threading.Lock()
        self._failures: OrderedDict[tuple[str, ...], deque[float]] = OrderedDict()
        self._reported: dict[tuple[str, ...], float] = {}

    def _keys(self, user: str, address: str) -> list[tuple[tuple[str, ...], int, str]]:
        out: list[tuple[tuple[str, ...], int, str]] = []
        if self.per_user:
            out.append((("user", user, address), self.per_user, f"for {user} from {address}"))
        if self.per_address:
            out.append((("address", address), self.per_address, f"from {address}"))
        return out

    def _recent(self, key: tuple[str, ...], now: float) -> deque[float] | None:
        times = self._failures.get(key)
        if times is None:
            return None
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failures[key]
            return None
        return times

    def check(self, user: str, address: str) -> Lockout | None:
        """A Lockout if ``user`` may not try to log in from ``address`` now."""
        now = time.monotonic()
        with self._lock:
            for key, limit, where in self._keys(user, address):
                times = self._recent(key, now)
                if times is not None and len(times) >= limit:
                    until = times[-limit] + self.window
                    first = self._reported.get(key, 0.0) < now
                    self._reported[key] = until
                    why = f"{limit} failed logins {where} within {round(self.window)} s"
                    return Lockout(max(1, math.ceil(until - now)), why, first)
        return None

    def failed(self, user: str, address: str) -> None:
        now = time.monotonic()
        with self._lock:
            for key, limit, _where in self._keys(user, address):
                times = self._recent(key, now)
                if times is None:
                    times = self._failures[key] = deque(maxlen=limit)
                times.append(now)
                self._failures.move_to_end(key)
            while len(self._failures) > self.max_keys:
                self._failures.popitem(last=False)
            for key in [k for k, until in self._reported.items() if until < now]:
                del self._reported[key]

    def succeeded(self, user: str, address: str) -> None:
        with self._lock:
            self._failures.pop(("user", user, address), None)
