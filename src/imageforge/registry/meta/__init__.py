"""Registry metadata in SQL: repositories, tags, manifests and their references, blob
links, upload sessions, users, projects, project members, robot accounts and the audit
log. Tags and links are rows, never files. One class (:class:`MetaStore`) over SQLite
(a file in the data directory, the default) or PostgreSQL (a ``postgresql://`` URL,
which several registry processes can share). A change may carry a ``Guard``, checked
inside its transaction through a :class:`MetaView` (how transactional gates run)."""

from imageforge.registry.meta._backend import Db, PoolSize
from imageforge.registry.meta._scans import (
    SEVERITIES,
    AllowEntry,
    Finding,
    Policy,
    ScanJob,
    ScanResult,
    ScanStore,
    severity_rank,
)
from imageforge.registry.meta._sql import (
    AuditRow,
    Guard,
    ManifestRow,
    MetaStore,
    MetaView,
    ProjectRow,
    Quota,
    QuotaExceeded,
    RobotRow,
    Usage,
    UserRow,
)
from imageforge.registry.meta._sql import _in_project as in_project

__all__ = [
    "SEVERITIES",
    "AllowEntry",
    "Finding",
    "Policy",
    "ScanJob",
    "ScanResult",
    "ScanStore",
    "severity_rank",
    "AuditRow",
    "Db",
    "Guard",
    "ManifestRow",
    "MetaStore",
    "MetaView",
    "PoolSize",
    "ProjectRow",
    "Quota",
    "QuotaExceeded",
    "RobotRow",
    "Usage",
    "UserRow",
    "in_project",
]
