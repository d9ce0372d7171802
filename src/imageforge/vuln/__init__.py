"""Vulnerability data and matching (placeholder docstring, completed below)."""

__all__: list[str] = []
