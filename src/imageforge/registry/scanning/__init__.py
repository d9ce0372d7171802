"""Scanning in the registry: the ``Scanner`` seam (a manifest digest in, a stored
:class:`~imageforge.registry.meta.ScanResult` out; the implementation that reads the
image and matches it against the vulnerability database lives outside the registry and
is passed in by ``registry serve``), the worker pool that runs the metadata database's
scan queue, and what a push queues (``scan_on_push``)."""

from imageforge.registry.scanning._scanner import Scanner, is_image
from imageforge.registry.scanning._workers import ScanWorkers, backoff

__all__ = ["ScanWorkers", "Scanner", "backoff", "is_image"]
