"""The Dockerfile frontend: ``.dockerignore`` and the build context (this branch); the
parser and typed instructions come from their own modules.

``parse_dockerignore`` / ``load_dockerignore`` read an ignore file with Docker's exact
semantics; ``walk_context`` lists what a build would send; ``context_report`` says how
big a context is, what in it is probably unwanted and what a better ``.dockerignore``
would save. Never imports lint or build.
"""

# .dockerignore and the build context
from imageforge.dockerfile._context import (
    AffectedSource,
    ContextReport,
    SizedPath,
    Totals,
    Unwanted,
    context_report,
    write_dockerignore,
)
from imageforge.dockerfile._ignore import (
    DockerIgnore,
    IgnorePattern,
    PatternKind,
    clean_path,
    compile_patterns,
    escape_pattern,
    find_dockerignore,
    load_dockerignore,
    parse_dockerignore,
    read_dockerignore,
)
from imageforge.dockerfile._walk import ContextEntry, EntryType, walk_context

__all__ = [
    # .dockerignore and the build context
    "AffectedSource",
    "ContextEntry",
    "ContextReport",
    "SizedPath",
    "Totals",
    "Unwanted",
    "context_report",
    "write_dockerignore",
    "DockerIgnore",
    "EntryType",
    "IgnorePattern",
    "PatternKind",
    "clean_path",
    "compile_patterns",
    "escape_pattern",
    "find_dockerignore",
    "load_dockerignore",
    "parse_dockerignore",
    "read_dockerignore",
    "walk_context",
]
