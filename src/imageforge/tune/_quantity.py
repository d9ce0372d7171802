"""Kubernetes quantities as ``tune`` writes them: CPU in millicores (``250m``), memory
and storage in MiB (``256Mi``), always rounded up so a recommendation never falls
below what was measured."""

from __future__ import annotations

import math

__all__ = ["MIB", "cpu_quantity", "memory_quantity", "millicores", "mebibytes"]

MIB = 1024 * 1024


def millicores(cores: float) -> int:
    return max(math.ceil(round(cores * 1000, 6)), 1)


def mebibytes(n: float) -> int:
    return max(math.ceil(n / MIB), 1)


def cpu_quantity(cores: float) -> str:
    return f"{millicores(cores)}m"


def memory_quantity(n: float) -> str:
    return f"{mebibytes(n)}Mi"
