"""Manifests, indexes and image configs: parsed from bytes (schema-checked, errors that
name the field) into typed, immutable values, and written back as canonical JSON.

The raw bytes stay the source of truth for digests: a parsed document remembers the
bytes it came from, so re-serialising never changes a digest behind the user's back.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from imageforge.errors import InvalidArgument
from imageforge.oci import _media as media
from imageforge.oci._canonical import canonical_json
from imageforge.oci._descriptor import Descriptor, annotations_of, optional_str
from imageforge.oci._digest import Digest
from imageforge.oci._platform import Platform
from imageforge.oci._schema import validate_json

__all__ = [
    "History",
    "ImageConfig",
    "IndexManifest",
    "Manifest",
    "layers_with_diff_ids",
    "load_json",
    "parse_any",
]


# How deep objects and arrays may nest. OCI documents need about 5 levels; deeper ones
# would exhaust Python's stack in the parser, the schema check or the serialiser
# (RecursionError, exit 70). Go's decoder stops at 10000; no real document comes near.
MAX_JSON_DEPTH = 64
# Integers longer than this are refused: Python refuses to convert more than 4300
# digits (ValueError), and Go's decoder takes no number beyond a float64's range.
_MAX_DIGITS = 400
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _integer(text: str) -> int:
    if len(text) > _MAX_DIGITS:
        raise ValueError(f"an integer of {len(text)} digits")
    return int(text)


def _depth_exceeds(data: Any, limit: int) -> bool:
    """Whether ``data`` nests objects/arrays deeper than ``limit`` (walked without
    recursion)."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node
        for child in children:
            if isinstance(child, dict | list):
                if depth + 1 > limit:
                    return True
                stack.append((child, depth + 1))
    return False


def _has_lone_surrogate(data: Any) -> bool:
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def load_json(raw: bytes, what: str) -> Any:
    """Parse a document from bytes, refusing what Go's decoder (and so registries and
    other tools) refuses or what could not be written back: malformed JSON, text that is
    not UTF-8, ``NaN``/``Infinity``, integers of hundreds of digits, nesting deeper than
    :data:`MAX_JSON_DEPTH` and strings with a lone UTF-16 surrogate (``"\\ud800"``)."""
    try:
        # UTF-8 only, as the OCI spec and Go's decoder have it (json.loads would guess
        # UTF-16 or UTF-32 from bytes).
        text = raw.decode("utf-8")
        data = json.loads(text, parse_constant=_constant, parse_int=_integer)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidArgument(f"{what} is not valid JSON: {exc}") from None
    except ValueError as exc:
        raise InvalidArgument(f"{what} is not valid JSON: {exc}") from None
    except RecursionError:
        data = None
        too_deep = True
    else:
        too_deep = isinstance(data, dict | list) and _depth_exceeds(data, MAX_JSON_DEPTH)
    if too_deep:
        raise InvalidArgument(
            f"{what}: objects and arrays nested more than {MAX_JSON_DEPTH} deep",
            hint="this is not an OCI document; it may be hostile",
        )
    if _SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(data):
        raise InvalidArgument(
            f"{what} is not valid JSON: a string holds a lone UTF-16 surrogate escape",
            hint="a \\uD800-\\uDFFF escape must be half of a surrogate pair",
        )
    return data


def _object(raw: bytes, what: str) -> dict[str, Any]:
    data = load_json(raw, what)
    if not isinstance(data, dict):
        raise InvalidArgument(f"{what}: expected a JSON object")
    return data


def _list(data: dict[str, Any], key: str, what: str) -> list[Any]:
    value = data.get(key)
    if not isinstance(value, list):
        raise InvalidArgument(f"{what}.{key}: expected a list, got {type(value).__name__}")
    return value


def _with_optional(
    out: dict[str, Any],
    artifact_type: str | None,
    subject: Descriptor | None,
    annotations: dict[str, str],
) -> dict[str, Any]:
    """Add the fields manifests and indexes share, only when set."""
    if artifact_type:
        out["artifactType"] = artifact_type
    if subject is not None:
        out["subject"] = subject.to_json()
    if annotations:
        out["annotations"] = dict(annotations)
    return out


@dataclass(frozen=True)
class Manifest:
    """An image manifest (OCI or Docker schema 2)."""

    config: Descriptor
    layers: tuple[Descriptor, ...]
    media_type: str = media.OCI_MANIFEST
    annotations: dict[str, str] = field(default_factory=dict, compare=False)
    subject: Descriptor | None = None
    artifact_type: str | None = None

    @classmethod
    def parse(cls, raw: bytes, *, what: str = "manifest", validate: bool = True) -> Manifest:
        return cls.from_json(_object(raw, what), what=what, validate=validate)

    @classmethod
    def from_json(
        cls, data: dict[str, Any], *, what: str = "manifest", validate: bool = True
    ) -> Manifest:
        """From the manifest's JSON, already loaded; without ``validate`` only what the
        model needs is checked (hostile input still meets InvalidArgument)."""
        if data.get("schemaVersion") == 1:
            raise InvalidArgument(
                f"{what}: Docker schema 1 manifests are not supported",
                hint="convert it with a current registry or skopeo first",
            )
        if validate:
            validate_json("manifest", data, what=what)
        media_type = optional_str(data, "mediaType", what) or media.OCI_MANIFEST
        if not media.is_manifest(media_type):
            raise InvalidArgument(f"{what}.mediaType: {media_type!r} is not an image manifest")
        subject = data.get("subject")
        return cls(
            config=Descriptor.from_json(data.get("config"), f"{what}.config"),
            layers=tuple(
                Descriptor.from_json(d, f"{what}.layers[{i}]")
                for i, d in enumerate(_list(data, "layers", what))
            ),
            media_type=media_type,
            annotations=annotations_of(data, what),
            subject=Descriptor.from_json(subject, f"{what}.subject") if subject else None,
            artifact_type=optional_str(data, "artifactType", what),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": self.media_type,
            "config": self.config.to_json(),
            "layers": [d.to_json() for d in self.layers],
        }
        return _with_optional(out, self.artifact_type, self.subject, self.annotations)

    def to_bytes(self) -> bytes:
        return canonical_json(self.to_json())


@dataclass(frozen=True)
class IndexManifest:
    """An image index (OCI) or manifest list (Docker)."""

    manifests: tuple[Descriptor, ...]
    media_type: str = media.OCI_INDEX
    annotations: dict[str, str] = field(default_factory=dict, compare=False)
    subject: Descriptor | None = None
    artifact_type: str | None = None

    @classmethod
    def parse(cls, raw: bytes, *, what: str = "index", validate: bool = True) -> IndexManifest:
        return cls.from_json(_object(raw, what), what=what, validate=validate)

    @classmethod
    def from_json(
        cls, data: dict[str, Any], *, what: str = "index", validate: bool = True
    ) -> IndexManifest:
        """As :meth:`Manifest.from_json`, for an index."""
        if validate:
            validate_json("index", data, what=what)
        media_type = optional_str(data, "mediaType", what) or media.OCI_INDEX
        if not media.is_index(media_type):
            raise InvalidArgument(f"{what}.mediaType: {media_type!r} is not an image index")
        subject = data.get("subject")
        return cls(
            manifests=tuple(
                Descriptor.from_json(d, f"{what}.manifests[{i}]")
                for i, d in enumerate(_list(data, "manifests", what))
            ),
            media_type=media_type,
            annotations=annotations_of(data, what),
            subject=Descriptor.from_json(subject, f"{what}.subject") if subject else None,
            artifact_type=optional_str(data, "artifactType", what),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": self.media_type,
            "manifests": [d.to_json() for d in self.manifests],
        }
        return _with_optional(out, self.artifact_type, self.subject, self.annotations)

    def to_bytes(self) -> bytes:
        return canonical_json(self.to_json())


@dataclass(frozen=True)
class History:
    created: str | None = None
    created_by: str | None = None
    author: str | None = None
    comment: str | None = None
    empty_layer: bool = False

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> History:
        return cls(
            created=data.get("created"),
            created_by=data.get("created_by"),
            author=data.get("author"),
            comment=data.get("comment"),
            empty_layer=bool(data.get("empty_layer", False)),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key in ("created", "created_by", "author", "comment"):
            if (value := getattr(self, key)) is not None:
                out[key] = value
        if self.empty_layer:
            out["empty_layer"] = True
        return out


@dataclass(frozen=True)
class ImageConfig:
    """An image configuration. ``data`` is the whole document (unknown fields kept);
    the properties are typed views of the fields imageforge uses."""

    data: dict[str, Any]

    @classmethod
    def parse(cls, raw: bytes, *, what: str = "config", validate: bool = True) -> ImageConfig:
        data = _object(raw, what)
        if validate:
            validate_json("config", data, what=what)
        rootfs = data.get("rootfs") or {}
        for i, d in enumerate(rootfs.get("diff_ids") or []):
            try:
                Digest(d)
            except InvalidArgument as exc:
                raise InvalidArgument(f"{what}.rootfs.diff_ids[{i}]: {exc.message}") from None
        return cls(data)

    @property
    def architecture(self) -> str:
        return str(self.data.get("architecture", ""))

    @property
    def os(self) -> str:
        return str(self.data.get("os", ""))

    @property
    def platform(self) -> Platform:
        return Platform(self.os, self.architecture, str(self.data.get("variant", "") or ""))

    @property
    def created(self) -> str | None:
        value = self.data.get("created")
        return str(value) if value else None

    @property
    def diff_ids(self) -> tuple[Digest, ...]:
        rootfs = self.data.get("rootfs") or {}
        return tuple(Digest(d) for d in rootfs.get("diff_ids") or [])

    @property
    def history(self) -> tuple[History, ...]:
        return tuple(History.from_json(h) for h in self.data.get("history") or [])

    @property
    def config(self) -> dict[str, Any]:
        """The runtime defaults (``Env``, ``Cmd``, ``User`` ...)."""
        value = self.data.get("config") or {}
        return dict(value)

    def replace(self, **fields: Any) -> ImageConfig:
        data = dict(self.data)
        data.update(fields)
        return ImageConfig(data)

    def to_bytes(self) -> bytes:
        return canonical_json(self.data)


def parse_any(
    raw: bytes, media_type: str | None = None, *, what: str = "manifest", validate: bool = True
) -> Manifest | IndexManifest:
    """A manifest or an index, by ``media_type`` or, failing that, by its content;
    ``validate``: against the OCI JSON schema too."""
    if media_type is None:
        data = _object(raw, what)
        media_type = data.get("mediaType")
        if media_type is None:
            media_type = media.OCI_INDEX if "manifests" in data else media.OCI_MANIFEST
        elif not isinstance(media_type, str):  # found by fuzz/fuzz_manifest.py
            raise InvalidArgument(
                f"{what}.mediaType: expected a string, got {type(media_type).__name__}"
            )
    if media.is_index(media_type):
        return IndexManifest.parse(raw, what=what, validate=validate)
    if media.is_manifest(media_type):
        return Manifest.parse(raw, what=what, validate=validate)
    raise InvalidArgument(f"{what}: unsupported media type {media_type!r}")


def layers_with_diff_ids(
    manifest: Manifest, config: ImageConfig
) -> Sequence[tuple[Descriptor, Digest]]:
    """Pair each layer descriptor with its diff_id; they must be as many."""
    diff_ids = config.diff_ids
    if len(diff_ids) != len(manifest.layers):
        raise InvalidArgument(
            f"image has {len(manifest.layers)} layers but its config lists {len(diff_ids)} diff_ids"
        )
    return list(zip(manifest.layers, diff_ids, strict=True))
