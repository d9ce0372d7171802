"""``build``'s signing options (--provenance, --sbom, --sign, --key,
--registry-referrers-mode), apart from ``cli/_sign_image`` so ``build`` and ``run`` start
without importing the signing modules: they are imported when a key is given."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from imageforge.errors import InvalidArgument
from imageforge.pipeline._sign_modes import LEGACY, MODES

if TYPE_CHECKING:
    from imageforge.pipeline import Attest

__all__ = ["build_signing_options"]

_KEY = click.Path(dir_okay=False, path_type=Path)
F = TypeVar("F", bound=Callable[..., Any])


def build_signing_options(func: F) -> F:
    """``build``'s --provenance, --sbom, --sign, --key and --registry-referrers-mode,
    given to the command as one ``attest`` (None when none is asked for). The key is
    opened (its password asked) before anything is built."""

    def to_attest(ctx: click.Context, _param: click.Parameter, key: Path | None) -> Attest | None:
        wanted = {k: bool(ctx.params.pop(k, False)) for k in ("provenance", "sbom", "sign")}
        mode = str(ctx.params.pop("mode", LEGACY))
        if not any(wanted.values()):
            if key is not None:
                raise InvalidArgument("--key is for --provenance, --sbom or --sign")
            return None
        if key is None:
            raise InvalidArgument(
                "--provenance, --sbom and --sign need --key (the private key to sign with)"
            )
        from imageforge.cli._sign import password_source
        from imageforge.pipeline import Attest, key_signer

        return Attest(key_signer(key, password_source()), mode=mode, **wanted)

    options = [
        click.option(
            "--provenance",
            is_flag=True,
            is_eager=True,
            help="Attest SLSA provenance v1 to the image, pushed or named (needs --key).",
        ),
        click.option(
            "--sbom",
            is_flag=True,
            is_eager=True,
            help="Attest the image's SPDX SBOM, pushed or named (needs --key).",
        ),
        click.option(
            "--sign",
            is_flag=True,
            is_eager=True,
            help="Sign the image at every docker:// output and in the store (needs --key).",
        ),
        click.option(
            "--registry-referrers-mode",
            "mode",
            type=click.Choice(MODES),
            default=LEGACY,
            show_default=True,
            is_eager=True,
            help="Where signatures and attestations go (see sign).",
        ),
        click.option(
            "--key",
            "attest",
            type=_KEY,
            default=None,
            callback=to_attest,
            expose_value=True,
            help="The private key for --provenance, --sbom and --sign.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func
