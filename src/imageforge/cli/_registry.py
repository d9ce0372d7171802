"""``imageforge registry serve``: run the OCI Distribution server."""

from __future__ import annotations

import os
from pathlib import Path

import click

from imageforge.cli._app import app
from imageforge.cli._options import GlobalOptions
from imageforge.errors import InvalidArgument
from imageforge.registry import RegistryConfig, load_config, open_registry, serve
from imageforge.store import StoreLayout


@app.group("registry")
def registry_app() -> None:
    """Serve images over the OCI Distribution API and manage the registry."""
    # Whatever a registry command creates in a data directory (metadata, blobs, uploads,
    # keys) is its user's alone, as PostgreSQL sets umask 077 for its data directory.
    os.umask(0o077)


def _split_addr(addr: str) -> tuple[str, int]:
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise InvalidArgument(f"--addr {addr!r} is not HOST:PORT", hint="e.g. 127.0.0.1:5000")
    return host.strip("[]"), int(port)


@registry_app.command("serve")
@click.option("--addr", default="127.0.0.1:5000", show_default=True, help="HOST:PORT to listen on.")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="The registry's own storage (default: <root>/registry), not the --root store.",
)
@click.option(
    "--db",
    metavar="URL",
    envvar="IMAGEFORGE_REGISTRY_DB",
    help="Metadata in PostgreSQL, postgresql://USER[:PASSWORD]@HOST[:PORT]/DB, shareable by"
    " several registry processes on one data directory (default: SQLite in the data"
    " directory; also $IMAGEFORGE_REGISTRY_DB or db in the config).",
)
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--tls-cert", type=click.Path(dir_okay=False, exists=True))
@click.option("--tls-key", type=click.Path(dir_okay=False, exists=True))
@click.pass_obj
def serve_cmd(
    opts: GlobalOptions,
    addr: str,
    data_dir: Path | None,
    db: str | None,
    config_path: Path | None,
    tls_cert: str | None,
    tls_key: str | None,
) -> None:
    """Serve the registry. First start creates user admin (password from
    $IMAGEFORGE_ADMIN_PASSWORD, else generated and printed once) and the public
    project library. Images are scanned (scan on push, registry scan start) against
    the vulnerability database under --root."""
    if (tls_cert is None) != (tls_key is None):
        raise InvalidArgument("--tls-cert and --tls-key go together")
    host, port = _split_addr(addr)
    directory = data_dir or StoreLayout(opts.root).registry
    config = load_config(config_path, directory) if config_path else RegistryConfig(directory)
    if db:
        config.db = db
    # Scans (scan on push, registry scan start) read the registry's own storage and
    # match against the vulnerability database of --root, as imageforge scan does.
    # Imported here: the scanner and the verifier bring the scanners and sign with them,
    # which no other registry command needs.
    from imageforge.pipeline import RegistryReplicator, RegistryScanner, RegistrySignatures

    state = open_registry(
        config,
        scanner=lambda storage: RegistryScanner(storage, opts.root),
        verifier=RegistrySignatures,
        replicator=RegistryReplicator,
        announce=lambda msg: click.echo(msg, err=True),
    )
    scheme = "https" if tls_cert else "http"
    where = f"{directory}, metadata in {state.meta.location}" if config.db else directory
    click.echo(f"registry serving {where} on {scheme}://{host}:{port}", err=True)
    level = "debug" if opts.verbose > 1 else "info" if opts.verbose else "warning"
    serve(
        state,
        host,
        port,
        tls_cert=tls_cert,
        tls_key=tls_key,
        log_level=level,
        header_timeout=config.header_timeout,
        trusted_proxies=config.trusted_proxies,
    )
