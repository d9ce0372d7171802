"""Delivering webhooks: a due delivery is claimed, posted with its HMAC signature and
recorded; a failure (no answer, or a status outside 2xx) is retried with exponential
backoff (the webhooks' ``retry_base`` seconds, doubled each time, at most an hour)
until their ``attempts`` have been made, then it is ``failed``. Redirects are not followed, and
the answer's body is not read.

Each request carries ``X-Imageforge-Signature: sha256=<hex HMAC-SHA256 of the body
with the webhook's secret>``, ``X-Imageforge-Event`` (the event type) and
``X-Imageforge-Delivery`` (the delivery's id, the same on every retry: a server killed
after the receiver answered but before the answer was recorded sends it again, so a
receiver that must act once keys on it). The secret is opened with the registry's
secret key for each attempt; a key that did not seal it fails the delivery with an
error naming the key file.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time

from imageforge.errors import ImageforgeError
from imageforge.registry.webhooks._hooks import Webhooks, check_target
from imageforge.registry.webhooks._store import DeliveryRow

__all__ = ["Deliverer", "sign"]

_LOG = logging.getLogger("imageforge.registry.webhooks")
_MAX_BACKOFF = 3600.0


def sign(secret: str, body: bytes) -> str:
    """The signature header's value for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class Deliverer:
    def __init__(
        self,
        webhooks: Webhooks,
        *,
        timeout: float = 10.0,
    ) -> None:
        self.webhooks = webhooks
        self.store = webhooks.store
        self.retry_base = webhooks.retry_base
        self.attempts = webhooks.attempts
        self.timeout = timeout
        import httpx  # the server's only: every registry command imports this package

        self._client = httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False)
        self._http_error = httpx.HTTPError

    def close(self) -> None:
        self._client.close()

    def backoff(self, attempts_made: int) -> float:
        """Seconds before the next attempt, after ``attempts_made`` failed ones."""
        return float(min(self.retry_base * 2 ** (attempts_made - 1), _MAX_BACKOFF))

    def step(self) -> int:
        """Deliver what is due now; how many attempts were made."""
        due = self.store.claim(time.time(), hold=self.timeout + 30)
        for d in due:
            self._attempt(d)
        return len(due)

    def _attempt(self, d: DeliveryRow) -> None:
        hook = self.store.hook(d.webhook)
        if hook is None:
            self.store.record(d, None, "webhook deleted", "failed", 0.0)
            return
        body = d.payload.encode()
        status: int | None = None
        error = ""
        try:
            secret = self.store.secret(hook)
        except ImageforgeError as exc:  # not this registry's key: no retry helps
            _LOG.warning("webhook %s: delivery %d not sent: %s", hook.url, d.id, exc)
            self.store.record(d, None, str(exc), "failed", 0.0)
            return
        try:
            check_target(hook.url, self.webhooks.private_targets)
            resp = self._client.post(
                hook.url,
                content=body,
                headers={
                    "Content-Type": "application/json",
                    "User-Agent": "imageforge-registry-webhook",
                    "X-Imageforge-Event": d.event,
                    "X-Imageforge-Delivery": str(d.id),
                    "X-Imageforge-Signature": sign(secret, body),
                },
            )
            status = resp.status_code
            if 200 <= status < 300:
                self.store.record(d, status, "", "delivered", 0.0)
                return
            error = f"answered {status}"
        except ImageforgeError as exc:  # a target no longer allowed: not retried
            self.store.record(d, None, exc.message, "failed", 0.0)
            return
        except self._http_error as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        made = d.attempts + 1
        if made >= self.attempts:
            _LOG.warning("webhook %s: delivery %d failed %d times: %s", hook.url, d.id, made, error)
            self.store.record(d, status, error, "failed", 0.0)
        else:
            self.store.record(d, status, error, "pending", time.time() + self.backoff(made))
