"""``promote``: an image moved from one lifecycle environment to the next by digest,
admitted only when the target environment's gates pass, copied with its signatures,
attestations and SBOM, and the promotion itself recorded as a signed attestation."""

from __future__ import annotations

import getpass
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from imageforge.errors import Denied, ImageforgeError, InvalidArgument, Unavailable
from imageforge.oci import Digest, Reference
from imageforge.pipeline._gates import GateOutcome, VulnGate, evaluate_gates, failed
from imageforge.pipeline._location import remote_ref
from imageforge.pipeline._session import Session
from imageforge.policy import EnvironmentPolicy, Policy
from imageforge.sign import Signer

__all__ = ["PROMOTION_TYPE", "GatesFailed", "Promotion", "promote", "resolve_in"]

PROMOTION_TYPE = "https://imageforge.dev/attestations/promotion/v1"
"""The predicate type of a promotion record (who, when, from, to, gates)."""


class GatesFailed(Denied):
    """An image refused by an environment's gates; ``outcomes`` holds every gate."""

    def __init__(self, message: str, outcomes: Sequence[GateOutcome], **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.outcomes = tuple(outcomes)


@dataclass(frozen=True)
class Promotion:
    """A promotion done: ``source`` and ``destination`` by digest (the same one), and
    ``tagged``, the destination's name and tag."""

    source: Reference
    destination: Reference
    from_environment: str | None
    to_environment: str
    outcomes: tuple[GateOutcome, ...]
    attested: bool
    tagged: str  # the destination by name, as the user will pull it

    def to_json(self) -> dict[str, Any]:
        return {
            "source": str(self.source),
            "destination": str(self.destination),
            "tagged": self.tagged,
            "digest": str(self.destination.digest),
            "from": self.from_environment,
            "to": self.to_environment,
            "promoted": True,
            "attested": self.attested,
            "gates": [o.to_json() for o in self.outcomes],
        }


def _prefix(env: EnvironmentPolicy) -> str:
    return "/".join(p for p in (env.registry, env.project) if p) + "/"


def resolve_in(
    policy: Policy, image: str, default: EnvironmentPolicy | None
) -> tuple[Reference, EnvironmentPolicy | None, str]:
    """``image`` as a registry reference, the environment it is in (None: none of the
    policy's), and its name below the environment's prefix (``app:1.0``). A short
    name (no registry) is looked up in ``default``."""
    text = image.removeprefix("docker://")
    for env in policy.environments:
        if text.startswith(_prefix(env)):
            return remote_ref(text), env, text[len(_prefix(env)) :]
    first = text.split("/", 1)[0]
    if ("." in first or ":" in first or first == "localhost") and "/" in text:
        ref = remote_ref(text)
        return ref, None, text.split("/", 1)[1]
    if default is None:
        raise InvalidArgument(
            f"{image!r} names no registry and there is no environment to find it in",
            hint="give the full reference REGISTRY/PROJECT/NAME:TAG",
        )
    return remote_ref(default.repository(text)), default, text


def _answering(env: EnvironmentPolicy | None, what: str, exc: Unavailable) -> Unavailable:
    where = f"environment {env.name} ({env.registry})" if env else what
    return Unavailable(
        f"{where} does not answer: {exc.message}",
        hint="check that the registry runs and its address in imageforge.toml",
    )


def _previous(policy: Policy, env: EnvironmentPolicy) -> EnvironmentPolicy | None:
    names = [e.name for e in policy.environments]
    at = names.index(env.name)
    return policy.environments[at - 1] if at > 0 else None


def promotion_predicate(
    source: Reference,
    destination: Reference,
    from_env: str | None,
    to_env: str,
    outcomes: Sequence[GateOutcome],
    who: str,
    when: datetime,
) -> dict[str, Any]:
    return {
        "promotedBy": who,
        "promotedOn": when.isoformat(timespec="seconds"),
        "from": {"environment": from_env, "image": str(source)},
        "to": {"environment": to_env, "image": str(destination)},
        "gates": [o.to_json() for o in outcomes],
    }


def promote(
    session: Session,
    policy: Policy,
    image: str,
    to: str,
    *,
    signer: Signer | None,
    vulns: VulnGate | None = None,
    who: str | None = None,
) -> Promotion:
    """Promote ``image`` (a registry reference, or a name in the environment before
    ``to``) into the environment ``to``: resolved to its digest once, the gates of
    ``to`` checked on it (every image of an index), then copied whole with its
    signatures and attestations under the same name there, and, with ``signer``, the
    promotion attested there. Refused (:class:`GatesFailed`, every gate named) when a
    gate fails; nothing is written then."""
    target = policy.environment(to)
    source, from_env, name = resolve_in(policy, image, _previous(policy, target))
    if from_env is not None and from_env.name == target.name:
        raise InvalidArgument(f"{image} is already in environment {to}")
    try:
        with session.opened(source) as obj:
            digest: Digest = obj.digest
    except Unavailable as exc:
        raise _answering(from_env, str(source), exc) from None
    pinned = source.with_digest(digest)
    outcomes = evaluate_gates(session, pinned, target, vulns=vulns)
    bad = failed(outcomes)
    if bad:
        names = ", ".join(dict.fromkeys(o.gate for o in bad))
        raise GatesFailed(
            f"{pinned} may not enter {to}: gate(s) failed: {names} ("
            + "; ".join(f"{o.gate}: {o.detail}" for o in bad)
            + ")",
            outcomes,
            hint=f"fix the image, or the gates of [environments.{to}] in "
            f"{policy.source or 'imageforge.toml'}",
        )
    dest_ref = remote_ref(target.repository(name.split("@", 1)[0]))
    from imageforge.pipeline._copy import copy

    try:
        written = copy(session, pinned, dest_ref, all_platforms=True)
    except Unavailable as exc:
        raise _answering(target, str(dest_ref), exc) from None
    if written != digest:
        raise ImageforgeError(f"{dest_ref}: wrote {written}, expected {digest}")
    destination = dest_ref.with_digest(digest)
    if signer is not None:
        from imageforge.pipeline._sign_attest import attest_image

        predicate = promotion_predicate(
            pinned,
            destination,
            from_env.name if from_env else None,
            target.name,
            outcomes,
            who or getpass.getuser(),
            datetime.now(UTC),
        )
        attest_image(session, destination, signer, predicate, PROMOTION_TYPE)
    return Promotion(
        pinned,
        destination,
        from_env.name if from_env else None,
        target.name,
        tuple(outcomes),
        signer is not None,
        str(dest_ref),
    )
