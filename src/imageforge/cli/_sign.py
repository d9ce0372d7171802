"""``imageforge key generate|import``: signing key pairs in cosign's formats.

The private key is written encrypted (cosign's scrypt + NaCl secretbox envelope) with the
password from ``COSIGN_PASSWORD`` or, on a terminal, a prompt; nothing of the key is ever
printed. Files are written atomically, the private key readable by its owner only.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from imageforge.cli._app import app
from imageforge.cli._options import OutputFormat, format_option
from imageforge.cli._render import print_json, stdout_console
from imageforge.errors import AlreadyExists, NotFound
from imageforge.sign import (
    ALGORITHMS,
    PasswordSource,
    PrivateKey,
    generate_key,
    load_private_key,
    password_from_env,
)
from imageforge.store import atomic_write


def _prompt(confirm: bool) -> bytes:
    value: str = click.prompt(
        "Enter password for private key",
        hide_input=True,
        confirmation_prompt="Enter password for private key again" if confirm else False,
        default="",
        show_default=False,
        err=True,
    )
    return value.encode()


def password_source() -> PasswordSource:
    """``COSIGN_PASSWORD``, else a prompt when stdin is a terminal, else an error."""
    return password_from_env(_prompt if sys.stdin.isatty() else None)


def _write_pair(key: PrivateKey, prefix: str, force: bool, fmt: OutputFormat) -> None:
    private_path, public_path = Path(f"{prefix}.key"), Path(f"{prefix}.pub")
    if not force:
        for path in (private_path, public_path):
            if path.exists():
                raise AlreadyExists(
                    f"{path} already exists",
                    hint="pass --force to replace it, or choose --output-key-prefix",
                )
    encrypted = key.to_cosign_pem(password_source()(True))
    atomic_write(private_path, encrypted, mode=0o600)
    atomic_write(public_path, key.public_key().to_pem(), mode=0o644)
    if fmt is OutputFormat.JSON:
        print_json(
            {
                "privateKey": str(private_path),
                "publicKey": str(public_path),
                "algorithm": key.algorithm,
            }
        )
        return
    out = stdout_console()
    out.print(f"Private key written to {private_path}", markup=False)
    out.print(f"Public key written to {public_path}", markup=False)


_prefix_help = "Write PREFIX.key (encrypted private key) and PREFIX.pub (public key)."
_force_help = "Replace key files that already exist."


@app.group("key")
def key_app() -> None:
    """Signing keys in cosign's formats: generate a pair, import an existing key."""


@key_app.command("generate")
@click.option(
    "--output-key-prefix", "prefix", default="cosign", show_default=True, help=_prefix_help
)
@click.option(
    "--algorithm",
    type=click.Choice(ALGORITHMS),
    default="ecdsa-p256",
    show_default=True,
    help="The key's algorithm.",
)
@click.option("--force", is_flag=True, help=_force_help)
@format_option
def generate_cmd(prefix: str, algorithm: str, force: bool, fmt: OutputFormat) -> None:
    """Generate a key pair as ``cosign generate-key-pair`` does.

    The private key is encrypted with the password from $COSIGN_PASSWORD (it may be
    empty) or, on a terminal, typed twice at a prompt.
    """
    _write_pair(generate_key(algorithm), prefix, force, fmt)


@key_app.command("import")
@click.argument("keyfile", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--output-key-prefix", "prefix", default="import-cosign", show_default=True, help=_prefix_help
)
@click.option("--force", is_flag=True, help=_force_help)
@format_option
def import_cmd(keyfile: Path, prefix: str, force: bool, fmt: OutputFormat) -> None:
    """Import KEYFILE (a PKCS#8, PKCS#1 RSA or SEC1 EC PEM key: ECDSA P-256/P-384/P-521,
    Ed25519 or RSA 2048-4096; or a cosign key) as a cosign key pair, as ``cosign
    import-key-pair`` does. The new private key is encrypted with the password from
    $COSIGN_PASSWORD or a prompt; an encrypted KEYFILE is opened with the same password.
    """
    try:
        data = keyfile.read_bytes()
    except FileNotFoundError:
        raise NotFound(f"{keyfile}: no such key file") from None
    key = load_private_key(data, password_source(), what=str(keyfile))
    _write_pair(key, prefix, force, fmt)
