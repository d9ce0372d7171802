"""The signature pull policies of a project, as one gate: ``require_signature`` (a
cosign signature by one of the project's public keys), ``required_attestation`` (an
in-toto attestation of that predicate type signed by one of them) and ``refuse_root``
(an image whose config runs as root). Verification goes through the injected
:class:`SignatureVerifier` (``registry serve`` gives one built on ``imageforge.sign``);
the registry itself holds no cryptography.

An image pulled by digest passes the signature checks when it, or an index of the
repository that lists it, is signed (cosign signs an index, and clients then fetch its
images by digest). Artifacts (the signatures themselves among them) pass, and so does
a signing tool (cosign, notation, imageforge) of a user who may push to the
repository, which must read the manifest before it can sign it (as Harbor lets
cosign and notation through)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from imageforge.oci import Digest, IndexManifest, Manifest
from imageforge.registry.meta import Policy, ScanStore
from imageforge.registry.policy._gate import Decision, GateContext
from imageforge.registry.scanning import is_image

__all__ = ["SIGNING_TOOLS", "SignatureVerifier", "SignedGate"]

# User-Agent prefixes of the tools that read a manifest to sign it.
SIGNING_TOOLS = ("cosign/", "notation", "imageforge")


class SignatureVerifier(Protocol):
    """Checks what is attached to a stored manifest; each answer is None when it
    holds, else why not (named in the refusal)."""

    def verify(self, repo: str, digest: Digest, keys: Sequence[str]) -> str | None:
        """A cosign signature of ``digest`` by one of ``keys`` (PEM public keys)."""
        ...

    def attested(
        self, repo: str, digest: Digest, keys: Sequence[str], predicate_type: str
    ) -> str | None:
        """An attestation of ``predicate_type`` about ``digest`` signed by one of
        ``keys``."""
        ...


def runs_as_root(config: dict[str, Any]) -> bool:
    """Whether an image config's user is root: unset, ``root``, uid 0, with any group."""
    settings = config.get("config")
    user = settings.get("User") if isinstance(settings, dict) else None
    name = str(user or "").split(":", 1)[0].strip()
    return name in ("", "0", "root")


class SignedGate:
    """``manifest_of`` and ``config_of`` read a stored manifest and image config
    (None if absent); ``may_push(user, repo)`` says who may sign."""

    def __init__(
        self,
        scans: ScanStore,
        verifier: SignatureVerifier | None,
        manifest_of: Callable[[Digest], Manifest | IndexManifest | None],
        config_of: Callable[[Digest], dict[str, Any] | None],
        may_push: Callable[[str | None, str], bool],
    ) -> None:
        self.scans = scans
        self.verifier = verifier
        self.manifest_of = manifest_of
        self.config_of = config_of
        self.may_push = may_push

    def check(self, image: Digest, ctx: GateContext) -> Decision:
        policy = ctx.shared("policy", lambda: self.scans.policy(ctx.project))
        if not policy.signed:
            return Decision(True)
        pulled = ctx.parsed_manifest() or self.manifest_of(image)
        if not isinstance(pulled, IndexManifest) and not is_image(pulled):
            return Decision(True)  # a signature, attestation, SBOM...
        if ctx.user_agent.lower().startswith(SIGNING_TOOLS) and self.may_push(
            ctx.user, ctx.repository
        ):
            return Decision(True)
        if policy.require_signature or policy.required_attestation:
            refused = self._signed(image, policy, ctx)
            if refused is not None:
                return refused
        if policy.refuse_root:
            return self._not_root(image, pulled, ctx)
        return Decision(True)

    def _signed(self, image: Digest, policy: Policy, ctx: GateContext) -> Decision | None:
        name = f"policy require_signature of project {ctx.project}"
        if self.verifier is None:
            return Decision(False, "this registry has no signature verifier", by=name)
        if not policy.keys:
            return Decision(
                False,
                "the project has no public keys to verify with",
                hint=f"add one: registry project policy {ctx.project} --key cosign.pub",
                by=name,
            )
        candidates = [image, *self.scans.index_parents(ctx.repository, image)]
        verifier = self.verifier
        checks: list[tuple[str, Callable[[Digest], str | None]]] = []
        if policy.require_signature:
            checks.append(
                (name, lambda d: verifier.verify(ctx.repository, d, policy.keys)),
            )
        if policy.required_attestation:
            wanted = policy.required_attestation
            checks.append(
                (
                    f"policy required_attestation ({wanted}) of project {ctx.project}",
                    lambda d: verifier.attested(ctx.repository, d, policy.keys, wanted),
                )
            )
        for what, check in checks:
            reasons = [check(d) for d in candidates]
            if None not in reasons:
                return Decision(
                    False,
                    str(reasons[0]),
                    hint="sign the image (imageforge sign --key, cosign sign --key) with a"
                    " key the project lists",
                    by=what,
                )
        return None

    def _not_root(
        self, image: Digest, pulled: Manifest | IndexManifest | None, ctx: GateContext
    ) -> Decision:
        images: list[tuple[Digest, Manifest | IndexManifest | None]] = [(image, pulled)]
        if isinstance(pulled, IndexManifest):
            images = [(d.digest, self.manifest_of(d.digest)) for d in pulled.manifests]
        for digest, manifest in images:
            if not is_image(manifest):
                continue
            assert isinstance(manifest, Manifest)
            config = self.config_of(manifest.config.digest)
            if config is None or runs_as_root(config):
                return Decision(
                    False,
                    f"{digest} runs as root (its config sets no other user)",
                    hint="set USER in the Dockerfile to a user other than root",
                    by=f"policy refuse_root of project {ctx.project}",
                )
        return Decision(True)
