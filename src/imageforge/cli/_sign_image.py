"""``imageforge sign``, ``verify``, ``attest`` and ``verify-attestation``: cosign's
key-based signatures and in-toto attestations of images in a registry. Each parses its
flags and calls ``imageforge.pipeline`` once; the password comes from ``COSIGN_PASSWORD``
or a prompt (``cli/_sign.py``), and nothing of a key is ever printed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from imageforge.cli._app import app
from imageforge.cli._options import (
    GlobalOptions,
    OutputFormat,
    authfile_option,
    format_option,
    tls_option,
)
from imageforge.cli._render import print_json
from imageforge.cli._session import session
from imageforge.cli._sign import password_source
from imageforge.errors import InvalidArgument
from imageforge.pipeline import (
    LEGACY,
    MODES,
    Location,
    Session,
    Signed,
    attest_image,
    find_in_store,
    key_signer,
    key_verifier,
    load_policy,
    load_predicate,
    public_key,
    sign_image,
    verify_attestations,
    verify_image,
)
from imageforge.sign import VerificationFailed, predicate_type
from imageforge.transports import TransportRef

_KEY = click.Path(dir_okay=False, path_type=Path)
F = TypeVar("F", bound=Callable[..., Any])


def annotation_pairs(values: tuple[str, ...]) -> dict[str, str]:
    """``-a key=value`` pairs (a key given twice: the last wins, as cosign does)."""
    out: dict[str, str] = {}
    for value in values:
        key, sep, val = value.partition("=")
        if not key or not sep:
            raise InvalidArgument(f"-a {value!r}: expected KEY=VALUE")
        out[key] = val
    return out


def annotation_option(help_text: str) -> Callable[[F], F]:
    """``-a/--annotations KEY=VALUE``, repeatable, as cosign spells it."""
    return click.option(
        "-a", "--annotations", "annotation", multiple=True, metavar="KEY=VALUE", help=help_text
    )


_mode_option = click.option(
    "--registry-referrers-mode",
    "mode",
    type=click.Choice(MODES),
    default=LEGACY,
    show_default=True,
    help="legacy: the sha256-<hex>.sig (.att) tag; oci-1-1: an OCI 1.1 referrer of the image.",
)


_local_option = click.option(
    "--local",
    is_flag=True,
    help="IMAGE is a name in the local store (pulled or built with its signatures); "
    "no registry is contacted.",
)


def _where(s: Session, image: str, local: bool) -> Location | str:
    """IMAGE as the pipeline takes it: a registry's (text), or with --local the store's."""
    if not local:
        return image
    name, _ = find_in_store(s.store, image)
    return TransportRef("store", name)


def _stored(signed: Signed, fmt: OutputFormat, verb: str) -> None:
    stored = signed.stored
    if fmt is OutputFormat.JSON:
        print_json(
            {
                "image": str(signed.image),
                "digest": str(signed.image.digest),
                "layout": stored.layout,
                "manifest": str(stored.manifest),
                "tag": stored.tag,
            }
        )
        return
    where = f"tag {stored.tag}" if stored.layout == LEGACY else f"referrer {stored.manifest}"
    click.echo(f"{verb} {signed.image} ({where})")


def _failed(fmt: OutputFormat, image: str, exc: VerificationFailed) -> None:
    """With --format json, the failure on stdout too (the error goes to stderr)."""
    if fmt is OutputFormat.JSON:
        print_json({"image": image, "verified": False, "reason": exc.reason, "error": str(exc)})


@app.command("sign")
@click.argument("image")
@click.option("--key", "key", type=_KEY, required=True, help="The private key (cosign.key).")
@annotation_option("Signed along in the payload's 'optional' (repeatable).")
@_mode_option
@_local_option
@tls_option
@authfile_option
@format_option
@click.pass_obj
def sign_command(
    opts: GlobalOptions,
    image: str,
    key: Path,
    annotation: tuple[str, ...],
    mode: str,
    local: bool,
    tls_verify: bool,
    authfile: Path | None,
    fmt: OutputFormat,
) -> None:
    """Sign the registry image [docker://]IMAGE as ``cosign sign --key`` does.

    A tag is resolved once and the digest is signed. The private key is opened with
    $COSIGN_PASSWORD or a password typed at a prompt.
    """
    required = annotation_pairs(annotation)
    signer = key_signer(key, password_source())  # a bad key or password: nothing written
    with session(opts, tls_verify=tls_verify, authfile=authfile) as s:
        signed = sign_image(s, _where(s, image, local), signer, annotations=required, mode=mode)
    _stored(signed, fmt, "Signed")


@app.command("verify")
@click.argument("image")
@click.option("--key", "key", type=_KEY, required=True, help="The public key (cosign.pub).")
@annotation_option("Require this annotation in the signed payload (repeatable).")
@click.option(
    "--rekor-pubkey",
    "rekor_pubkey",
    type=_KEY,
    default=None,
    help="Also require a Rekor bundle signed by this log key, checked offline.",
)
@_local_option
@tls_option
@authfile_option
@format_option
@click.pass_obj
def verify_command(
    opts: GlobalOptions,
    image: str,
    key: Path,
    annotation: tuple[str, ...],
    rekor_pubkey: Path | None,
    local: bool,
    tls_verify: bool,
    authfile: Path | None,
    fmt: OutputFormat,
) -> None:
    """Verify the signatures of the registry image [docker://]IMAGE with a public key,
    as ``cosign verify --key`` does (offline: no transparency log).

    Passes when one signature, in the .sig tag or among the image's referrers, is by
    the key, names the image's digest and carries every -a annotation; else exits 8
    with the reason (no-signature, bad-signature, wrong-digest, annotation-mismatch,
    malformed; bad-log-entry with --rekor-pubkey).
    """
    required = annotation_pairs(annotation)
    verifier = key_verifier(key)
    log_key = public_key(rekor_pubkey) if rekor_pubkey is not None else None
    with session(opts, tls_verify=tls_verify, authfile=authfile) as s:
        try:
            verified = verify_image(
                s, _where(s, image, local), verifier, annotations=required, log_key=log_key
            )
        except VerificationFailed as exc:
            _failed(fmt, image, exc)
            raise
    if fmt is OutputFormat.JSON:
        print_json(verified.to_json())
        return
    n = len(verified.signatures)
    click.echo(f"Verified {verified.image}: {n} signature{'s' if n != 1 else ''} by the key given")


@app.command("attest")
@click.argument("image")
@click.option(
    "--predicate",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The predicate: a JSON document (SLSA provenance, SPDX or CycloneDX SBOM, scan).",
)
@click.option(
    "--type",
    "kind",
    default="custom",
    show_default=True,
    help="The predicate type: slsaprovenance (v0.2), slsaprovenance1, spdx, cyclonedx, "
    "vuln, openvex, link, custom, or a URI.",
)
@click.option("--key", "key", type=_KEY, required=True, help="The private key (cosign.key).")
@_mode_option
@_local_option
@tls_option
@authfile_option
@format_option
@click.pass_obj
def attest_command(
    opts: GlobalOptions,
    image: str,
    predicate: Path,
    kind: str,
    key: Path,
    mode: str,
    local: bool,
    tls_verify: bool,
    authfile: Path | None,
    fmt: OutputFormat,
) -> None:
    """Attest PREDICATE about the registry image [docker://]IMAGE as ``cosign attest
    --key`` does: an in-toto statement naming the image's digest, signed in a DSSE
    envelope, stored in the .att tag or as an OCI 1.1 referrer."""
    document = load_predicate(predicate)
    predicate_type(kind)  # an unknown short name is refused before the key is opened
    signer = key_signer(key, password_source())
    with session(opts, tls_verify=tls_verify, authfile=authfile) as s:
        signed = attest_image(s, _where(s, image, local), signer, document, kind, mode=mode)
    _stored(signed, fmt, "Attested")


@app.command("verify-attestation")
@click.argument("image")
@click.option(
    "--type",
    "kinds",
    multiple=True,
    help="A predicate type that must be attested (repeatable; short name or URI).",
)
@click.option("--key", "key", type=_KEY, required=True, help="The public key (cosign.pub).")
@click.option(
    "--policy",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="A TOML policy: predicate types required and conditions on their content.",
)
@_local_option
@tls_option
@authfile_option
@format_option
@click.pass_obj
def verify_attestation_command(
    opts: GlobalOptions,
    image: str,
    kinds: tuple[str, ...],
    key: Path,
    policy: Path | None,
    local: bool,
    tls_verify: bool,
    authfile: Path | None,
    fmt: OutputFormat,
) -> None:
    """Verify the attestations of the registry image [docker://]IMAGE, as ``cosign
    verify-attestation --key`` does (offline): for each --type (and each type the
    --policy names) one attestation signed by the key, naming the image's digest;
    then the policy's conditions. Exits 8 with the reason when that fails
    (no-signature, bad-signature, wrong-digest, wrong-payload-type, malformed,
    policy-violation)."""
    rules = load_policy(policy) if policy is not None else None
    verifier = key_verifier(key)
    with session(opts, tls_verify=tls_verify, authfile=authfile) as s:
        try:
            verified = verify_attestations(
                s, _where(s, image, local), verifier, kinds=kinds, policy=rules
            )
        except VerificationFailed as exc:
            _failed(fmt, image, exc)
            raise
    if fmt is OutputFormat.JSON:
        print_json(verified.to_json())
        return
    for att in verified.attestations:
        click.echo(f"Verified {att.statement.predicate_type} attestation of {verified.image}")
    if rules is not None:
        click.echo(f"Policy {policy} holds")
