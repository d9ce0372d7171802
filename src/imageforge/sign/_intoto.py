"""in-toto Statement v1: what an attestation says about which artifacts.

``{"_type": "https://in-toto.io/Statement/v1", "subject": [{"name", "digest"}],
"predicateType": URI, "predicate": {...}}``, carried in a DSSE envelope of payload type
``application/vnd.in-toto+json``. cosign's older ``Statement/v0.1`` is read too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from imageforge.errors import InvalidArgument
from imageforge.oci import Digest
from imageforge.sign._errors import VerificationFailed, json_object

__all__ = [
    "IN_TOTO_PAYLOAD_TYPE",
    "PREDICATE_TYPES",
    "STATEMENT_V1",
    "Statement",
    "Subject",
    "predicate_type",
]

IN_TOTO_PAYLOAD_TYPE: Final = "application/vnd.in-toto+json"
STATEMENT_V1: Final = "https://in-toto.io/Statement/v1"
_STATEMENT_TYPES: Final = frozenset({STATEMENT_V1, "https://in-toto.io/Statement/v0.1"})
# cosign attest --type's short names and the predicate types they stand for.
PREDICATE_TYPES: Final = {
    "slsaprovenance": "https://slsa.dev/provenance/v0.2",
    "slsaprovenance02": "https://slsa.dev/provenance/v0.2",
    "slsaprovenance1": "https://slsa.dev/provenance/v1",
    "spdx": "https://spdx.dev/Document",
    "spdxjson": "https://spdx.dev/Document",
    "cyclonedx": "https://cyclonedx.org/bom",
    "link": "https://in-toto.io/Link/v1",
    "vuln": "https://cosign.sigstore.dev/attestation/vuln/v1",
    "openvex": "https://openvex.dev/ns",
    "custom": "https://cosign.sigstore.dev/attestation/v1",
}


def predicate_type(name: str) -> str:
    """A ``--type`` value as a predicate type URI: a short name from
    :data:`PREDICATE_TYPES`, or a URI as given."""
    if name in PREDICATE_TYPES:
        return PREDICATE_TYPES[name]
    if "://" in name:
        return name
    raise InvalidArgument(
        f"unknown predicate type {name!r}",
        hint="use one of " + ", ".join(sorted(PREDICATE_TYPES)) + ", or a URI",
    )


@dataclass(frozen=True)
class Subject:
    name: str
    digest: Mapping[str, str]

    @classmethod
    def for_image(cls, name: str, digest: Digest | str) -> Subject:
        d = Digest(digest)
        return cls(name, {d.algorithm: d.hex})

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "digest": dict(self.digest)}


@dataclass(frozen=True)
class Statement:
    subjects: tuple[Subject, ...]
    predicate_type: str
    predicate: Any
    type: str = STATEMENT_V1

    def to_json(self) -> dict[str, Any]:
        return {
            "_type": self.type,
            "subject": [s.to_json() for s in self.subjects],
            "predicateType": self.predicate_type,
            "predicate": self.predicate,
        }

    def to_bytes(self) -> bytes:
        return json.dumps(self.to_json(), separators=(",", ":"), ensure_ascii=False).encode()

    def names(self, digest: Digest | str) -> bool:
        """Whether a subject of the statement has ``digest``."""
        d = Digest(digest)
        return any(s.digest.get(d.algorithm) == d.hex for s in self.subjects)

    def check_subject(self, digest: Digest | str) -> None:
        if not self.names(digest):
            raise VerificationFailed(
                f"the attestation's subjects do not include {digest}",
                reason="wrong-digest",
                hint="this attestation was made for another image",
            )

    @classmethod
    def parse(cls, raw: bytes, *, what: str = "in-toto statement") -> Statement:
        def bad(detail: str) -> VerificationFailed:
            return VerificationFailed(f"{what}: {detail}", reason="malformed")

        data = json_object(raw, what)
        if data.get("_type") not in _STATEMENT_TYPES:
            raise bad(f"_type {data.get('_type')!r} is not an in-toto Statement")
        ptype = data.get("predicateType")
        if not isinstance(ptype, str) or not ptype:
            raise bad("predicateType missing")
        subjects = data.get("subject")
        if not isinstance(subjects, list) or not subjects:
            raise bad("no subject")
        parsed = []
        for i, s in enumerate(subjects):
            if not isinstance(s, dict) or not isinstance(s.get("digest"), dict):
                raise bad(f"subject[{i}].digest missing")
            digest = s["digest"]
            if not digest or not all(isinstance(v, str) for v in digest.values()):
                raise bad(f"subject[{i}].digest is empty or not a map of strings")
            name = s.get("name", "")
            if not isinstance(name, str):
                raise bad(f"subject[{i}].name is not a string")
            parsed.append(Subject(name, dict(digest)))
        return cls(tuple(parsed), ptype, data.get("predicate"), data["_type"])
