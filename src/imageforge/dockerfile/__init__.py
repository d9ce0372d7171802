"""The Dockerfile frontend: BuildKit-exact parser, typed instructions, variable expansion.

Hand-written in Python rather than wrapping BuildKit's Go parser: imageforge must run
where no Go toolchain or BuildKit binary exists, lint and build need immutable, typed
Python values with a position on every node, and one process must parse a whole corpus
in well under a second. Behaviour follows BuildKit (``moby/buildkit``,
``frontend/dockerfile``) and is pinned by its own parser and shell-lexer test data.

Layers: :func:`parse_ast` (lines, directives, continuations, heredocs -> :class:`Node`),
:func:`dump_ast` (BuildKit's test ``result`` text), :func:`parse` (typed instructions
grouped in :class:`Stage` values, global ARGs, warnings as data), :func:`to_dockerfile`
(typed instructions back to text), :func:`expand_word` / :func:`expand_words` (the
shell lexer) and :func:`resolve` (build args, ARG/ENV scoping and expansion per stage).

The build context: :func:`load_dockerignore` reads ``.dockerignore`` with Docker's exact
semantics (hand-written too: no library matches them), :func:`walk_context` lists what a
build sends without descending into excluded directories, and :func:`context_report`
says how big a context is and what a better ``.dockerignore`` would save. Never imports
lint or build.
"""

from imageforge.dockerfile._ast import (
    Directive,
    Heredoc,
    Node,
    ParseResult,
    ParseWarning,
    SourceRange,
)

# .dockerignore and the build context
from imageforge.dockerfile._context import (
    AffectedSource,
    ContextReport,
    SizedPath,
    Totals,
    Unwanted,
    context_report,
    context_sources,
    write_dockerignore,
)
from imageforge.dockerfile._dockerfile import Dockerfile, Stage, parse, parse_file
from imageforge.dockerfile._dump import dump_ast, dump_node
from imageforge.dockerfile._duration import parse_go_duration
from imageforge.dockerfile._expand import ExpansionResult, ShellLex, expand_word, expand_words
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
from imageforge.dockerfile._instructions import (
    Add,
    Arg,
    ArgDef,
    Cmd,
    Copy,
    Entrypoint,
    Env,
    Expose,
    From,
    Healthcheck,
    Instruction,
    KeyValue,
    Label,
    Maintainer,
    Mount,
    Onbuild,
    Run,
    Shell,
    StopSignal,
    User,
    Volume,
    Workdir,
)
from imageforge.dockerfile._parser import parse_ast, parse_heredoc_word
from imageforge.dockerfile._render import format_instruction, to_dockerfile
from imageforge.dockerfile._scope import (
    PROXY_ARGS,
    Resolution,
    ResolvedStage,
    platform_arg,
    predefined_args,
    resolve,
)
from imageforge.dockerfile._walk import ContextEntry, EntryType, walk_context

__all__ = [
    "AffectedSource",
    "ContextEntry",
    "ContextReport",
    "SizedPath",
    "Totals",
    "Unwanted",
    "context_report",
    "context_sources",
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
    "PROXY_ARGS",
    "Resolution",
    "ResolvedStage",
    "platform_arg",
    "predefined_args",
    "resolve",
    "Add",
    "Arg",
    "ArgDef",
    "Cmd",
    "Copy",
    "Directive",
    "Dockerfile",
    "Entrypoint",
    "Env",
    "ExpansionResult",
    "Expose",
    "From",
    "Healthcheck",
    "Heredoc",
    "Instruction",
    "KeyValue",
    "Label",
    "Maintainer",
    "Mount",
    "Node",
    "Onbuild",
    "ParseResult",
    "ParseWarning",
    "Run",
    "Shell",
    "ShellLex",
    "SourceRange",
    "Stage",
    "StopSignal",
    "User",
    "Volume",
    "Workdir",
    "dump_ast",
    "dump_node",
    "expand_word",
    "expand_words",
    "format_instruction",
    "parse",
    "parse_ast",
    "parse_go_duration",
    "parse_file",
    "parse_heredoc_word",
    "to_dockerfile",
]
