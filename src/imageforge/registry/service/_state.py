"""An open registry: its storage, metadata and gates, and the services over them that
the HTTP edge (and the admin commands) call."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from imageforge.oci import Digest
from imageforge.registry._pulls import PullClock
from imageforge.registry._secrets import SecretBox
from imageforge.registry.auth import Authorizer, LoginLimiter, TokenIssuer
from imageforge.registry.events import EventSink, Fanout
from imageforge.registry.meta import MetaStore
from imageforge.registry.policy import Gates, ImmutableTags, SignatureVerifier
from imageforge.registry.scanning import ScanWorkers
from imageforge.registry.service._access import AccessControl
from imageforge.registry.service._blobs import Blobs
from imageforge.registry.service._manage import Management, stored_size
from imageforge.registry.service._manifests import Manifests, blobs_named_by
from imageforge.registry.service._scans import ScanService
from imageforge.registry.service._uploads import Uploads
from imageforge.registry.storage import RegistryStorage
from imageforge.registry.webhooks import Webhooks

if TYPE_CHECKING:  # the proxy and replication build on these services
    from imageforge.registry.proxy import ProxyCache
    from imageforge.registry.replication import Replication

__all__ = ["RegistryState", "registry_gates"]


def registry_gates(blobs_of: Callable[[Digest], Sequence[str]]) -> Gates:
    """The gates every registry checks, to which others are added: immutable tags
    (transactional, on push and delete; ``blobs_of`` reads what a stored manifest
    names, see :func:`blobs_named_by`)."""
    gates = Gates()
    gates.register(
        ImmutableTags(blobs_of),
        on=("push", "delete"),
        transactional=True,
    )
    return gates


class RegistryState:
    """What the HTTP handlers share: the storage, metadata, gates and the services."""

    def __init__(
        self,
        storage: RegistryStorage,
        meta: MetaStore,
        tokens: TokenIssuer,
        authorizer: Authorizer,
        *,
        gates: Gates | None = None,
        max_manifest_bytes: int = 4 << 20,
        token_realm: str | None = None,  # None: /token on this server
        upload_expiry: float = 7 * 86400,  # seconds after which an unfinished upload goes
        logins: LoginLimiter | None = None,
        events: EventSink | None = None,  # who else hears of pushes, pulls, deletes
        webhooks: Webhooks | None = None,
        blob_redirect: bool = False,  # blob GETs redirected to the storage's URLs
        secrets: SecretBox | None = None,  # seals stored passwords and webhook secrets
    ) -> None:
        self.storage = storage
        self.meta = meta
        self.tokens = tokens
        self.authorizer = authorizer
        if gates is None:
            gates = registry_gates(functools.partial(blobs_named_by, storage))
        self.gates = gates
        self.max_manifest_bytes = max_manifest_bytes
        self.token_realm = token_realm
        self.upload_expiry = upload_expiry
        self.manifests = Manifests(meta, storage, self.gates)
        self.blobs = Blobs(meta, storage, self.gates, redirect=blob_redirect)
        self.uploads = Uploads(meta, storage, upload_expiry)
        self.access = AccessControl(meta, authorizer, tokens, logins or LoginLimiter())
        self.manage = Management(meta, authorizer, self.gates, stored_size(storage))
        self.scans: ScanWorkers | None = None  # set by attach_scanner
        self.proxy: ProxyCache | None = None  # proxy-cache projects, if served
        self.policies = ScanService(meta, storage, self.manage)
        # Every event goes to the pull clock (retention's pull times), the webhooks and
        # ``events``; emit here (``state.events.emit``) what the registry does.
        self.pulls = PullClock(meta)
        self.secrets = secrets
        self.webhooks = webhooks or Webhooks(meta, secrets=secrets)
        extra = [events] if events is not None else []
        self._fanout = Fanout([self.pulls, self.webhooks, *extra])
        self.events: EventSink = self._fanout
        self.replication: Replication | None = None  # set by attach_replication
        # What verifies signatures and attestations (open_registry's ``verifier``;
        # None: nothing here can), for the pages that say whether one holds.
        self.verifier: SignatureVerifier | None = None

    def attach_replication(self, replication: Replication) -> None:
        """Replicate with ``replication``: its rules served by the API, its on-push
        rules started by the pushes and deletes it hears."""
        self.replication = replication
        self._fanout.sinks.append(replication)

    def attach_scanner(self, workers: ScanWorkers) -> None:
        """Scan through ``workers``: each pushed image of a project that scans on push
        is queued, and the server runs the pool while it serves."""
        self.scans = workers
        workers.events = self.events
        self.policies.version = workers.scanner.version
        self.manifests.pushed.append(workers.pushed)
