"""Content descriptors: what a manifest says about a blob it points to."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from imageforge.errors import InvalidArgument
from imageforge.oci._digest import Digest
from imageforge.oci._platform import Platform

__all__ = ["Descriptor"]


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
            digest = Digest(data["digest"])
            size = data["size"]
        except KeyError as exc:
            raise InvalidArgument(f"{where}: missing field {exc.args[0]!r}") from None
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
            annotations=dict(data.get("annotations") or {}),
            platform=Platform.from_json(plat) if isinstance(plat, dict) else None,
            urls=tuple(data.get("urls") or ()),
            artifact_type=data.get("artifactType"),
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
