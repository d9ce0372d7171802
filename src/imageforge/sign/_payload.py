"""cosign's "simple signing" payload: the JSON document a container image signature is
made over. It names the image by digest, so a signature can never follow a moving tag.

cosign writes it with Go's ``encoding/json``; :func:`simple_signing_payload` writes the
same bytes (key order, no spaces, ``<``, ``>`` and ``&`` escaped as Go escapes them), so a
payload made here for the same image and annotations is the one cosign would sign.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from imageforge.errors import InvalidArgument
from imageforge.oci import DEFAULT_DOMAIN, Digest, Reference, load_json
from imageforge.sign._errors import VerificationFailed

__all__ = [
    "SIMPLE_SIGNING_TYPE",
    "SimpleSigning",
    "docker_reference",
    "go_json",
    "parse_simple_signing",
    "simple_signing_payload",
]

SIMPLE_SIGNING_TYPE: Final = "cosign container image signature"
_GO_ESCAPES: Final = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def go_json(value: Any) -> bytes:
    """``value`` as Go's ``json.Marshal`` writes it: insertion order kept (Go writes struct
    fields in declaration order; maps the caller passes sorted), no spaces, UTF-8, and
    the HTML-sensitive characters escaped."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    for char, escaped in _GO_ESCAPES.items():
        text = text.replace(char, escaped)
    return text.encode("utf-8")


def docker_reference(reference: Reference | str) -> str:
    """The repository as cosign names it in ``docker-reference``: ``registry/path``, with
    Docker Hub spelled ``index.docker.io`` (go-containerregistry's name for it)."""
    ref = Reference.parse(reference) if isinstance(reference, str) else reference
    domain = "index.docker.io" if ref.domain == DEFAULT_DOMAIN else ref.domain
    return f"{domain}/{ref.path}"


def simple_signing_payload(
    reference: Reference | str,
    digest: Digest | str,
    annotations: Mapping[str, Any] | None = None,
) -> bytes:
    """The payload cosign signs for the image ``digest`` in ``reference``'s repository,
    with ``annotations`` (``cosign sign -a key=value``) under ``optional``."""
    optional = None if not annotations else {k: annotations[k] for k in sorted(annotations)}
    document = {
        "critical": {
            "identity": {"docker-reference": docker_reference(reference)},
            "image": {"docker-manifest-digest": str(Digest(digest))},
            "type": SIMPLE_SIGNING_TYPE,
        },
        "optional": optional,
    }
    return go_json(document)


@dataclass(frozen=True)
class SimpleSigning:
    """What a simple signing payload claims."""

    docker_reference: str
    digest: Digest
    optional: dict[str, Any] = field(default_factory=dict)

    def check_digest(self, digest: Digest | str) -> None:
        """Raise :class:`VerificationFailed` (``wrong-digest``) unless the payload names
        ``digest``."""
        if self.digest != digest:
            raise VerificationFailed(
                f"the signed payload names image {self.digest}, not {digest}",
                reason="wrong-digest",
                hint="this signature was made for another image (or was copied onto this one)",
            )

    def check_annotations(self, required: Mapping[str, str]) -> None:
        """Raise :class:`VerificationFailed` unless every ``required`` annotation is in
        ``optional`` with that value (``cosign verify -a key=value``)."""
        for key, value in required.items():
            if key not in self.optional:
                raise VerificationFailed(
                    f"the signed payload has no annotation {key!r}",
                    reason="annotation-mismatch",
                    hint="the image was signed without it",
                )
            if str(self.optional[key]) != value:
                raise VerificationFailed(
                    f"the signed payload has {key}={self.optional[key]!r}, not {value!r}",
                    reason="annotation-mismatch",
                )


def parse_simple_signing(raw: bytes, *, what: str = "signature payload") -> SimpleSigning:
    """Read a simple signing payload; anything that is not one is a
    :class:`VerificationFailed` (``malformed``) naming the field."""

    def bad(detail: str) -> VerificationFailed:
        return VerificationFailed(f"{what}: {detail}", reason="malformed")

    try:
        data = load_json(raw, what)
    except InvalidArgument:  # bad UTF-8 or JSON, or hostile nesting
        raise bad("not JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("critical"), dict):
        raise bad("no 'critical' object")
    critical = data["critical"]
    if critical.get("type") != SIMPLE_SIGNING_TYPE:
        raise bad(f"critical.type is {critical.get('type')!r}, not {SIMPLE_SIGNING_TYPE!r}")
    identity, image = critical.get("identity"), critical.get("image")
    if not isinstance(identity, dict) or not isinstance(identity.get("docker-reference"), str):
        raise bad("critical.identity.docker-reference missing")
    if not isinstance(image, dict) or not isinstance(image.get("docker-manifest-digest"), str):
        raise bad("critical.image.docker-manifest-digest missing")
    try:
        digest = Digest(image["docker-manifest-digest"])
    except InvalidArgument as exc:
        raise bad(f"critical.image.docker-manifest-digest: {exc.message}") from None
    optional = data.get("optional")
    if optional is not None and not isinstance(optional, dict):
        raise bad("optional is not an object")
    return SimpleSigning(identity["docker-reference"], digest, dict(optional or {}))
