"""What a scan read from an image, kept by the image's manifest digest so a warm scan
matches without reading the layers again (trivy keeps its layer analysis the same way):
the SBOM (imageforge's JSON, every field) and the layer that brought each package in,
and the secret and image-configuration results under the settings they were made with
(:meth:`ScanCache.get_part`).

An image is content-addressed, so an entry never goes stale; its key also names the
imageforge version, so a newer cataloger reads the image afresh. An image some layer of
which could not be read is not kept (the next scan tries again). An entry that cannot be
read is a miss, and is written again."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from imageforge import __version__
from imageforge.sbom import Sbom, SourceInfo, to_json
from imageforge.scan._sbom_input import sbom_from_json
from imageforge.store import atomic_write
from imageforge.vuln import LayerOrigin

__all__ = ["CACHE_FORMAT", "ScanCache"]

_ABANDONED_WRITE = 24 * 3600.0  # a temporary file this old is a killed scan's

CACHE_FORMAT = "imageforge-scan-cache/1"


class ScanCache:
    """Entries under ``directory`` (``<root>/scan-cache``), one JSON file per image (the
    SBOM and origins, and the other scanners' results as ``parts``)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, digest: str) -> Path:
        key = f"{CACHE_FORMAT}\0{__version__}\0{digest}"
        return self.directory / (hashlib.sha256(key.encode()).hexdigest() + ".json")

    def get(self, digest: str, source: SourceInfo) -> tuple[Sbom, dict[str, LayerOrigin]] | None:
        """The SBOM (its source replaced by ``source``) and origins kept for the image
        ``digest``, or None."""
        try:
            doc = json.loads(self._path(digest).read_bytes())
            if doc.get("format") != CACHE_FORMAT or doc.get("digest") != digest:
                return None
            sbom = replace(sbom_from_json(doc["sbom"], source.name), source=source)
            origins = {
                pid: LayerOrigin(o["digest"], o["number"], o["diffId"], o["createdBy"])
                for pid, o in doc["origins"].items()
            }
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None
        return sbom, origins

    def _read(self, digest: str) -> dict[str, Any]:
        try:
            doc = json.loads(self._path(digest).read_bytes())
        except (OSError, ValueError):
            return {}
        if not isinstance(doc, dict) or doc.get("format") != CACHE_FORMAT:
            return {}
        return doc if doc.get("digest") == digest else {}

    def _write(self, digest: str, doc: dict[str, Any]) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            atomic_write(self._path(digest), json.dumps(doc).encode())
        except OSError:
            return  # a cache that cannot be written costs the next scan time, nothing else

    def get_part(self, digest: str, kind: str, key: str) -> dict[str, Any] | None:
        """Another scanner's result for the image ``digest`` (``kind``: ``secrets``,
        ``misconfigurations``) made with the settings ``key``, as it was put, or None."""
        parts = self._read(digest).get("parts")
        found = parts.get(f"{kind}/{key}") if isinstance(parts, dict) else None
        return found if isinstance(found, dict) else None

    def put_part(self, digest: str, kind: str, key: str, result: dict[str, Any]) -> None:
        """Keep ``result`` beside what the image's entry holds already."""
        doc = self._read(digest) or {"format": CACHE_FORMAT, "digest": digest}
        parts = doc.get("parts") if isinstance(doc.get("parts"), dict) else {}
        assert isinstance(parts, dict)
        parts[f"{kind}/{key}"] = result
        doc["parts"] = parts
        self._write(digest, doc)

    def put(self, digest: str, sbom: Sbom, origins: Mapping[str, LayerOrigin]) -> None:
        doc: dict[str, Any] = {
            "format": CACHE_FORMAT,
            "digest": digest,
            "sbom": to_json(sbom),
            "origins": {
                pid: {
                    "digest": o.digest,
                    "number": o.number,
                    "diffId": o.diff_id,
                    "createdBy": o.created_by,
                }
                for pid, o in origins.items()
            },
        }
        parts = self._read(digest).get("parts")
        if isinstance(parts, dict):
            doc["parts"] = parts
        self._write(digest, doc)

    def prune(self, keep: set[str], *, dry_run: bool = False) -> tuple[int, int]:
        """Delete the entries of images whose manifest digest is not in ``keep`` (what
        the store's names reach), entries an older imageforge wrote or that cannot be
        read, and writes a killed scan abandoned; returns (entries, bytes) deleted (or
        that would be, with ``dry_run``)."""
        entries = freed = 0
        try:
            files = list(self.directory.iterdir())
        except OSError:
            return 0, 0
        now = time.time()
        for path in files:
            try:
                stat = path.stat()
            except OSError:
                continue  # gone meanwhile
            if path.name.startswith("."):
                if now - stat.st_mtime < _ABANDONED_WRITE:
                    continue  # a scan writing now
            elif path.suffix == ".json" and self._kept_for(path, keep):
                continue
            entries += 1
            freed += stat.st_size
            if not dry_run:
                path.unlink(missing_ok=True)
        return entries, freed

    def _kept_for(self, path: Path, keep: set[str]) -> bool:
        try:
            doc = json.loads(path.read_bytes())
        except (OSError, ValueError):
            return False
        digest = doc.get("digest") if isinstance(doc, dict) else None
        return (
            isinstance(digest, str)
            and doc.get("format") == CACHE_FORMAT
            and digest in keep
            and self._path(digest) == path  # not an older version's key
        )
