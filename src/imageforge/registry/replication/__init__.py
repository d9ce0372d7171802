"""Replication (Harbor's replication rules): images of this registry copied by digest,
with their signatures and attestations, to another registry (imageforge, distribution,
any OCI registry) on demand, on a cron schedule or on push, or (direction ``pull``)
images of another registry fetched into this one on demand or on a cron schedule,
stored through this registry's services (:class:`LocalRegistry`); blobs the
destination has are not sent again, so an interrupted run's next run sends only what
is missing. The copy itself is a :class:`Replicator` (and, to pull, a :class:`Puller`
reading a :class:`Source`) injected by ``registry serve`` (the registry does not
import the registry client)."""

from imageforge.registry.replication._pull import LocalRegistry, Source
from imageforge.registry.replication._rules import (
    DIRECTIONS,
    NAME_PATTERN,
    TRIGGERS,
    Endpoint,
    ReplicationRule,
    endpoint_from_json,
    rule_from_json,
)
from imageforge.registry.replication._run import (
    SCHEDULE_PREFIX,
    Puller,
    Replication,
    Replicator,
    Transfer,
)
from imageforge.registry.replication._store import ItemRow, ReplicationStore, RunRow

__all__ = [
    "DIRECTIONS",
    "NAME_PATTERN",
    "SCHEDULE_PREFIX",
    "TRIGGERS",
    "Endpoint",
    "ItemRow",
    "LocalRegistry",
    "Puller",
    "Replication",
    "ReplicationRule",
    "ReplicationStore",
    "Replicator",
    "RunRow",
    "Source",
    "Transfer",
    "endpoint_from_json",
    "rule_from_json",
]
