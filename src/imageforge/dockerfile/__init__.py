"""The Dockerfile frontend: BuildKit-exact parser, typed instructions, variable expansion.

Hand-written in Python rather than wrapping BuildKit's Go parser: imageforge must run
where no Go toolchain or BuildKit binary exists, lint and build need immutable, typed
Python values with a position on every node, and one process must parse a whole corpus
in well under a second. Behaviour follows BuildKit (``moby/buildkit``,
``frontend/dockerfile``) and is pinned by its own parser and shell-lexer test data.

Layers: :func:`parse_ast` (lines, directives, continuations, heredocs -> :class:`Node`),
:func:`dump_ast` (BuildKit's test ``result`` text), :func:`expand_word` /
:func:`expand_words` (the shell lexer).
"""

from imageforge.dockerfile._ast import (
    Directive,
    Heredoc,
    Node,
    ParseResult,
    ParseWarning,
    SourceRange,
)
from imageforge.dockerfile._dump import dump_ast, dump_node
from imageforge.dockerfile._expand import ExpansionResult, ShellLex, expand_word, expand_words
from imageforge.dockerfile._parser import parse_ast, parse_heredoc_word

__all__ = [
    "Directive",
    "ExpansionResult",
    "Heredoc",
    "Node",
    "ParseResult",
    "ParseWarning",
    "ShellLex",
    "SourceRange",
    "dump_ast",
    "dump_node",
    "expand_word",
    "expand_words",
    "parse_ast",
    "parse_heredoc_word",
]
