"""Replication (Harbor's replication rules): images of this registry copied by digest,
with their signatures and attestations, to another registry (imageforge, distribution,
any OCI registry) on demand, on a cron schedule or on push; blobs the destination has
are not sent again, so an interrupted run's next run sends only what is missing. The
copy itself is a :class:`Replicator` injected by ``registry serve`` (the registry does
not import the registry client)."""

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
    "Replication",
    "ReplicationRule",
    "ReplicationStore",
    "Replicator",
    "RunRow",
    "Transfer",
    "endpoint_from_json",
    "rule_from_json",
]
