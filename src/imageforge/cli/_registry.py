"""``imageforge registry serve``: run the OCI Distribution server."""

from __future__ import annotations

import os
from pathlib import Path

import click

from imageforge.cli._app import app
from imageforge.cli._options import GlobalOptions
from imageforge.errors import InvalidArgument
from imageforge.registry import RegistryConfig, load_config, open_registry, serve
from imageforge.registry.proxy import DEFAULT_TTL
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
@click.option(
    "--storage",
    metavar="URL",
    envvar="IMAGEFORGE_REGISTRY_STORAGE",
    help="Blobs and upload sessions in S3, s3://BUCKET/PREFIX?endpoint=URL, shareable by"
    " several registry processes on several machines (default: the data directory; also"
    " $IMAGEFORGE_REGISTRY_STORAGE or storage in the config). Credentials from"
    " $AWS_ACCESS_KEY_ID/$AWS_SECRET_ACCESS_KEY or a credentials file, never the URL.",
)
@click.option(
    "--storage-redirect/--no-storage-redirect",
    default=None,
    help="Answer blob GETs with a redirect to a presigned URL of the S3 storage.",
)
@click.option(
    "--token-key-file",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="IMAGEFORGE_REGISTRY_TOKEN_KEY_FILE",
    help="The token signing key (64 hex digits, e.g. from openssl rand -hex 32) shared by"
    " every replica behind a load balancer, so a token one issued verifies on all"
    " (default: a key made in the data directory; also token_key_file in the config).",
)
@click.option(
    "--db-pool-size",
    type=click.IntRange(min=1),
    envvar="IMAGEFORGE_REGISTRY_DB_POOL_SIZE",
    help="PostgreSQL connections this process opens at most (default 10; also"
    " db_pool_size in the config).",
)
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--secret-key-file",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="IMAGEFORGE_SECRET_KEY_FILE",
    help="The key sealing stored passwords and webhook secrets, one file for registries"
    " sharing a database (default: secret.key in the data directory, made on first use; also"
    " $IMAGEFORGE_SECRET_KEY_FILE or secret_key_file in the config).",
)
@click.option("--tls-cert", type=click.Path(dir_okay=False, exists=True))
@click.option("--tls-key", type=click.Path(dir_okay=False, exists=True))
@click.option(
    "--proxy-ttl",
    type=click.FloatRange(min=0),
    default=DEFAULT_TTL,
    show_default=True,
    help="Seconds after which a proxy project re-validates a cached tag with its upstream.",
)
@click.option(
    "--mirror-project",
    metavar="NAME",
    help="Mirror mode: pulls of repositories in no project here (/v2/library/x from a"
    " registry-mirrors client) are served from this proxy project.",
)
@click.pass_obj
def serve_cmd(
    opts: GlobalOptions,
    addr: str,
    data_dir: Path | None,
    db: str | None,
    storage: str | None,
    storage_redirect: bool | None,
    token_key_file: Path | None,
    db_pool_size: int | None,
    config_path: Path | None,
    secret_key_file: Path | None,
    tls_cert: str | None,
    tls_key: str | None,
    proxy_ttl: float,
    mirror_project: str | None,
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
    if secret_key_file:
        config.secret_key_file = secret_key_file
    if storage:
        config.storage = storage
    if storage_redirect is not None:
        config.storage_redirect = storage_redirect
    if token_key_file is not None:
        config.token_key_file = token_key_file
    if db_pool_size is not None:
        config.db_pool_size = db_pool_size
    if config.storage_redirect and config.storage is None:
        raise InvalidArgument(
            "--storage-redirect needs --storage s3://...",
            hint="blobs in the data directory are served by the registry itself",
        )
    # Scans (scan on push, registry scan start) read the registry's own storage and
    # match against the vulnerability database of --root, as imageforge scan does.
    # Imported here: the scanner and the verifier bring the scanners and sign with them,
    # which no other registry command needs.
    from imageforge.pipeline import (
        HttpUpstream,
        RegistryReplicator,
        RegistryScanner,
        RegistrySignatures,
    )

    state = open_registry(
        config,
        scanner=lambda storage: RegistryScanner(storage, opts.root),
        verifier=RegistrySignatures,
        replicator=RegistryReplicator,
        announce=lambda msg: click.echo(msg, err=True),
        upstream=HttpUpstream,
        proxy_ttl=proxy_ttl,
        mirror_project=mirror_project,
    )
    if mirror_project and state.proxy and state.proxy.store.get(mirror_project) is None:
        raise InvalidArgument(
            f"--mirror-project {mirror_project} is not a proxy project",
            hint=f"registry project add {mirror_project} --proxy-for URL",
        )
    scheme = "https" if tls_cert else "http"
    where = f"{directory}, metadata in {state.meta.location}" if config.db else f"{directory}"
    if config.storage:
        where += f", blobs in {state.storage}"
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
