"""Content descriptors: what a manifest says about a blob it points to."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from imageforge.errors import InvalidArgument
from imageforge.oci._digest import Digest
from imageforge.oci._platform import Platform

__all__ = ["Descriptor"]


def annotations_of(data: dict[str, Any], what: str) -> dict[str, str]:
    """The ``annotations`` of a manifest, index or descriptor (``{}`` when absent)."""
    value = data.get("annotations") or {}
    if not isinstance(value, dict):
        raise InvalidArgument(f"{what}.annotations: expected an object")
    return dict(value)


def optional_str(data: dict[str, Any], key: str, what: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise InvalidArgument(f"{what}.{key}: expected a string")
    return value


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: Digest
    size: int
    annotations: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    platform: Platform | None = None
    urls: tuple[str, ...] = ()
    artifact_type: str | None = None

    @classmethod
    def from_json(cls, data: Any, where: str = "descriptor") -> Descriptor:
        if not isinstance(data, dict):
            raise InvalidArgument(f"{where}: expected an object, got {type(data).__name__}")
        try:
            media_type = data["mediaType"]
            raw_digest = data["digest"]
            size = data["size"]
        except KeyError as exc:
            raise InvalidArgument(f"{where}: missing field {exc.args[0]!r}") from None
        if not isinstance(raw_digest, str):
            raise InvalidArgument(f"{where}.digest: expected a string")
        try:
            digest = Digest(raw_digest)
        except InvalidArgument as exc:
            raise InvalidArgument(f"{where}.digest: {exc.message}") from None
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise InvalidArgument(f"{where}.size: expected a non-negative integer, got {size!r}")
        if not isinstance(media_type, str):
            raise InvalidArgument(f"{where}.mediaType: expected a string")
        plat = data.get("platform")
        return cls(
            media_type=media_type,
            digest=digest,
            size=size,
            annotations=annotations_of(data, where),
            platform=Platform.from_json(plat) if isinstance(plat, dict) else None,
            urls=tuple(_urls(data, where)),
            artifact_type=optional_str(data, "artifactType", where),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "mediaType": self.media_type,
            "digest": str(self.digest),
            "size": self.size,
        }
        if self.urls:
            out["urls"] = list(self.urls)
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        if self.platform is not None:
            out["platform"] = self.platform.to_json()
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        return out


def _urls(data: dict[str, Any], where: str) -> list[str]:
    value = data.get("urls") or []
    if not isinstance(value, list) or not all(isinstance(u, str) for u in value):
        raise InvalidArgument(f"{where}.urls: expected a list of strings")
    return value
