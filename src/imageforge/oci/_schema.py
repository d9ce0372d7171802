"""Validation of manifests, indexes and configs against the OCI image-spec JSON schemas
(shipped in ``schemas/``), with errors that name the offending field."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from imageforge.errors import InvalidArgument

if TYPE_CHECKING:  # imported on first use: a command that parses no document pays nothing
    import jsonschema_rs

__all__ = ["SCHEMAS", "validate_json"]

SCHEMAS = {
    "manifest": "image-manifest-schema.json",
    "index": "image-index-schema.json",
    "config": "config-schema.json",
    "layout": "image-layout-schema.json",
    "descriptor": "content-descriptor.json",
}


# Read beside this module, not through importlib.resources: the package is installed as
# files (a wheel or an editable tree), and importlib.resources brings tempfile, zipfile
# and random into every command that reads an image.
_DIR = Path(__file__).resolve().parent / "schemas"


def _load(filename: str) -> Any:
    return json.loads((_DIR / filename).read_text(encoding="utf-8"))


def _retrieve(uri: str) -> Any:
    # The schemas refer to each other by file name relative to nested ids; whatever the
    # base, the last path segment names one of the shipped files.
    return _load(uri.rsplit("/", 1)[-1])


@cache
def _validator(kind: str) -> jsonschema_rs.Draft4Validator:
    # jsonschema-rs, not jsonschema: the same Draft 4 checks (formats not asserted, as
    # jsonschema's default), but its import costs ~5 ms where jsonschema's (with
    # referencing, rfc3987, idna) costs ~70 ms, paid by every short command that reads
    # an image.
    import jsonschema_rs

    schema = _load(SCHEMAS[kind])
    if kind == "manifest":
        # The rc2 schema demands a layer; image-spec 1.1 relaxed that to SHOULD, and real
        # images (FROM scratch with only metadata, artifacts) have none.
        schema["properties"]["layers"].pop("minItems", None)
    return jsonschema_rs.Draft4Validator(schema, retriever=_retrieve, validate_formats=False)


def _field(path: Any) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(document)"


def validate_json(kind: str, document: Any, *, what: str | None = None) -> None:
    """Raise :class:`InvalidArgument` naming the first failing field, if any."""
    errors = sorted(
        _validator(kind).iter_errors(document), key=lambda e: [str(p) for p in e.instance_path]
    )
    if not errors:
        return
    err = errors[0]
    more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
    raise InvalidArgument(
        f"{what or kind} fails the OCI {kind} schema at {_field(err.instance_path)}: "
        f"{err.message}{more}"
    )
