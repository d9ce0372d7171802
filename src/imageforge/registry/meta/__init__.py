"""Registry metadata in SQL (SQLite by default): repositories, tags, manifests and their
references, blob links, upload sessions, users, projects. Tags and links are rows, never
files. One small layer (:class:`MetaStore`) so another SQL backend can come later."""

from imageforge.registry.meta._sql import ManifestRow, MetaStore, ProjectRow, UserRow

__all__ = ["ManifestRow", "MetaStore", "ProjectRow", "UserRow"]
