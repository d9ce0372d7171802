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

from __future__ import annotations

from typing import TYPE_CHECKING

from imageforge._lazy import lazy_names

if TYPE_CHECKING:
    from imageforge.dockerfile._ast import (
        Directive,
        Heredoc,
        Node,
        ParseResult,
        ParseWarning,
        SourceRange,
    )
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

_WHERE = {
    "Directive": "_ast",
    "Heredoc": "_ast",
    "Node": "_ast",
    "ParseResult": "_ast",
    "ParseWarning": "_ast",
    "SourceRange": "_ast",
    "AffectedSource": "_context",
    "ContextReport": "_context",
    "SizedPath": "_context",
    "Totals": "_context",
    "Unwanted": "_context",
    "context_report": "_context",
    "context_sources": "_context",
    "write_dockerignore": "_context",
    "Dockerfile": "_dockerfile",
    "Stage": "_dockerfile",
    "parse": "_dockerfile",
    "parse_file": "_dockerfile",
    "dump_ast": "_dump",
    "dump_node": "_dump",
    "parse_go_duration": "_duration",
    "ExpansionResult": "_expand",
    "ShellLex": "_expand",
    "expand_word": "_expand",
    "expand_words": "_expand",
    "DockerIgnore": "_ignore",
    "IgnorePattern": "_ignore",
    "PatternKind": "_ignore",
    "clean_path": "_ignore",
    "compile_patterns": "_ignore",
    "escape_pattern": "_ignore",
    "find_dockerignore": "_ignore",
    "load_dockerignore": "_ignore",
    "parse_dockerignore": "_ignore",
    "read_dockerignore": "_ignore",
    "Add": "_instructions",
    "Arg": "_instructions",
    "ArgDef": "_instructions",
    "Cmd": "_instructions",
    "Copy": "_instructions",
    "Entrypoint": "_instructions",
    "Env": "_instructions",
    "Expose": "_instructions",
    "From": "_instructions",
    "Healthcheck": "_instructions",
    "Instruction": "_instructions",
    "KeyValue": "_instructions",
    "Label": "_instructions",
    "Maintainer": "_instructions",
    "Mount": "_instructions",
    "Onbuild": "_instructions",
    "Run": "_instructions",
    "Shell": "_instructions",
    "StopSignal": "_instructions",
    "User": "_instructions",
    "Volume": "_instructions",
    "Workdir": "_instructions",
    "parse_ast": "_parser",
    "parse_heredoc_word": "_parser",
    "format_instruction": "_render",
    "to_dockerfile": "_render",
    "PROXY_ARGS": "_scope",
    "Resolution": "_scope",
    "ResolvedStage": "_scope",
    "platform_arg": "_scope",
    "predefined_args": "_scope",
    "resolve": "_scope",
    "ContextEntry": "_walk",
    "EntryType": "_walk",
    "walk_context": "_walk",
}

__getattr__, __dir__ = lazy_names(__name__, _WHERE, globals())
