"""Validation of manifests, indexes and configs against the OCI image-spec JSON schemas
(shipped in ``schemas/``), with errors that name the offending field."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from imageforge.errors import InvalidArgument

if TYPE_CHECKING:  # jsonschema is imported on first use: it costs ~70 ms per process
    import jsonschema
    from referencing import Resource

__all__ = ["SCHEMAS", "validate_json"]

SCHEMAS = {
    "manifest": "image-manifest-schema.json",
    "index": "image-index-schema.json",
    "config": "config-schema.json",
    "layout": "image-layout-schema.json",
    "descriptor": "content-descriptor.json",
}


def _load(filename: str) -> Any:
    return json.loads(resources.files("imageforge.oci").joinpath("schemas", filename).read_text())


def _retrieve(uri: str) -> Resource[Any]:
    from referencing import Resource
    from referencing.jsonschema import DRAFT4

    # The schemas refer to each other by file name relative to nested ids; whatever the
    # base, the last path segment names one of the shipped files.
    return Resource.from_contents(_load(uri.rsplit("/", 1)[-1]), default_specification=DRAFT4)


@cache
def _validator(kind: str) -> jsonschema.Draft4Validator:
    import jsonschema
    from referencing import Registry

    registry: Registry[Any] = Registry(retrieve=_retrieve)  # type: ignore[call-arg]
    schema = _load(SCHEMAS[kind])
    if kind == "manifest":
        # The rc2 schema demands a layer; image-spec 1.1 relaxed that to SHOULD, and real
        # images (FROM scratch with only metadata, artifacts) have none.
        schema["properties"]["layers"].pop("minItems", None)
    return jsonschema.Draft4Validator(schema, registry=registry)


def _field(path: Any) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(document)"


def validate_json(kind: str, document: Any, *, what: str | None = None) -> None:
    """Raise :class:`InvalidArgument` naming the first failing field, if any."""
    errors = sorted(_validator(kind).iter_errors(document), key=lambda e: list(e.path))
    if not errors:
        return
    err = errors[0]
    more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
    raise InvalidArgument(
        f"{what or kind} fails the OCI {kind} schema at {_field(err.absolute_path)}: "
        f"{err.message}{more}"
    )
