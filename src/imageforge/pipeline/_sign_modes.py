"""The two layouts of attached objects (cosign's ``.sig``/``.att`` tags, OCI 1.1
referrers), by name: what ``--registry-referrers-mode`` takes. Kept apart from the
signing modules so a command offering the flag does not import them."""

from __future__ import annotations

from typing import Final

__all__ = ["LEGACY", "MODES", "OCI_1_1"]

LEGACY: Final = "legacy"
OCI_1_1: Final = "oci-1-1"
MODES: Final = (LEGACY, OCI_1_1)
