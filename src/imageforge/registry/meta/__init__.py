"""Registry metadata in SQL (SQLite by default): repositories, tags, manifests and their
references, blob links, upload sessions, users, projects, project members,
robot accounts and the audit log. Tags and links are rows, never
files. One small layer (:class:`MetaStore`) so another SQL backend can come later."""

from imageforge.registry.meta._sql import (
    AuditRow,
    ManifestRow,
    MetaStore,
    ProjectRow,
    RobotRow,
    UserRow,
)

__all__ = ["AuditRow", "ManifestRow", "MetaStore", "ProjectRow", "RobotRow", "UserRow"]
