"""The text form of BuildKit's parser tests (``Node.Dump``): one s-expression per line."""

from __future__ import annotations

from imageforge.dockerfile._ast import Node, ParseResult
from imageforge.dockerfile._gotext import go_quote, go_quote_list

__all__ = ["dump_ast", "dump_node"]


def dump_node(node: Node) -> str:
    """``(keyword ["--flag"] "arg" ...)`` without the outer parentheses."""
    parts = [node.keyword.lower()]
    if node.flags:
        parts.append(go_quote_list(node.flags))
    if node.child is not None:
        parts.append("(" + dump_node(node.child) + ")")
    parts.extend(go_quote(a) for a in node.args)
    return " ".join(parts).strip()


def dump_ast(result: ParseResult) -> str:
    """Every instruction, in file order, one ``(...)`` per line, with a final newline:
    byte for byte what BuildKit's parser tests keep in their ``result`` files."""
    return "".join("(" + dump_node(n) + ")\n" for n in result.nodes)
