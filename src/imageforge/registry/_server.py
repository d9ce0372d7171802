"""Opening a registry's data directory and serving it with uvicorn."""

from __future__ import annotations

import functools
from collections.abc import Callable

import uvicorn

from imageforge.registry._config import RegistryConfig
from imageforge.registry._datadir import secure_data_dir
from imageforge.registry._http import header_timeout_protocol
from imageforge.registry._secrets import secret_box
from imageforge.registry.api import create_app
from imageforge.registry.auth import (
    Access,
    Authorizer,
    LoginLimiter,
    TokenIssuer,
    bootstrap,
    hash_password,
    token_key,
    warm_up,
)
from imageforge.registry.meta import MetaStore, PoolSize
from imageforge.registry.policy import (
    AdminBypass,
    Gate,
    SignatureVerifier,
    SignedGate,
    VulnerabilityGate,
)
from imageforge.registry.proxy import DEFAULT_TTL, ProxyCache, UpstreamFactory
from imageforge.registry.replication import Replication, Replicator
from imageforge.registry.scanning import Scanner, ScanWorkers
from imageforge.registry.service import (
    RegistryState,
    blobs_named_by,
    registry_gates,
    stored_config,
    stored_manifest,
)
from imageforge.registry.storage import RegistryStorage, open_storage
from imageforge.registry.webhooks import Webhooks

__all__ = ["open_registry", "serve"]


def open_registry(
    config: RegistryConfig,
    *,
    push_gate: Gate | None = None,
    pull_gate: Gate | None = None,
    scanner: Callable[[RegistryStorage], Scanner] | None = None,
    verifier: Callable[[MetaStore, RegistryStorage], SignatureVerifier] | None = None,
    replicator: Callable[[MetaStore, RegistryStorage], Replicator] | None = None,
    announce: Callable[[str], None] = print,
    upstream: UpstreamFactory | None = None,
    proxy_ttl: float = DEFAULT_TTL,
    mirror_project: str | None = None,
) -> RegistryState:
    """Open (creating on first start) the storage under ``config.data_dir`` and the
    metadata: PostgreSQL at ``config.db`` if set, else SQLite in the data directory.

    First start creates ``admin`` and the public project ``library``; a generated admin
    password is passed to ``announce`` once, as are changes made to secure an existing
    data directory (its modes; the token key moved out of the database).

    Its gates are immutable tags, the projects' vulnerability pull policies, then
    ``push_gate`` (on push) and ``pull_gate`` (on pull); more can be registered on
    ``state.gates``. ``scanner`` makes the scanner that reads the registry's storage;
    with one (and ``config.scan_workers`` > 0) the server runs the scan queue.
    ``verifier`` makes the signature verifier the signature policies use (without one,
    a project that requires signatures refuses every image). ``upstream`` makes the
    client of a proxy-cache project's upstream; with one, proxy projects are served
    (tags re-validated after ``proxy_ttl`` seconds) and, with ``mirror_project``,
    pulls of repositories in no project here come from that proxy project. ``replicator``
    makes what copies images to other registries for the replication rules (without one,
    rules can be managed but not run).
    """
    secure_data_dir(config.data_dir, announce)
    meta = MetaStore(
        config.db or config.data_dir / "meta.db",
        PoolSize(config.db_pool_size, config.db_pool_timeout),
    )
    generated = bootstrap(meta)
    if generated:
        announce(f"created user admin with password {generated} (shown once)")
    for user in config.users:
        row = meta.user(user.name)
        if row is None:
            meta.add_user(user.name, hash_password(user.password), user.admin)
    for project in config.projects:
        meta.add_project(project.name, project.public)
        if project.immutable_tags is not None:
            meta.set_immutable(project.name, project.immutable_tags)
        for member, role in project.members.items():
            meta.add_member(project.name, member, role)
    try:
        key = token_key(config.data_dir, meta, announce, shared=config.token_key_file)
    except BaseException:
        meta.close()  # a wrong key file stops the start, leaving no connection open
        raise
    warm_up()
    storage = open_storage(config.data_dir, config.storage)
    gates = registry_gates(functools.partial(blobs_named_by, storage))
    authorizer = Authorizer(meta)
    manifest_of = functools.partial(stored_manifest, storage)
    signed = SignedGate(
        meta.scans,
        None if verifier is None else verifier(meta, storage),
        manifest_of,
        functools.partial(stored_config, storage),
        lambda user, repo: bool(
            authorizer.granted(user, Access("repository", repo, frozenset({"push"}))).actions
        ),
    )

    def audit(user: str | None, action: str, repo: str, ref: str, result: str, detail: str) -> None:
        meta.audit_add(user, action, repo, ref, result, "", detail)

    for gate in (VulnerabilityGate(meta.scans, manifest_of), signed):
        gates.register(AdminBypass(gate, authorizer.is_system_admin, audit), on=["pull"])
    if push_gate is not None:
        gates.register(push_gate, on=["push"])
    if pull_gate is not None:
        gates.register(pull_gate, on=["pull"])
    box = secret_box(config.data_dir, config.secret_key_file, announce)
    state = RegistryState(
        storage,
        meta,
        TokenIssuer(key, config.service, config.token_lifetime),
        authorizer,
        gates=gates,
        max_manifest_bytes=config.max_manifest_bytes,
        token_realm=config.token_realm,
        upload_expiry=config.upload_expiry,
        blob_redirect=config.storage_redirect,
        logins=LoginLimiter(
            config.failed_login_limit,
            config.failed_login_address_limit,
            config.failed_login_window,
        ),
        webhooks=Webhooks(
            meta,
            private_targets=config.webhook_private_targets,
            retry_base=config.webhook_retry_base,
            attempts=config.webhook_attempts,
            secrets=box,
        ),
        secrets=box,
    )
    state.verifier = signed.verifier
    if upstream is not None:
        state.proxy = ProxyCache(
            meta,
            storage,
            upstream,
            ttl=proxy_ttl,
            mirror=mirror_project,
            spool_dir=config.data_dir,  # followers of a fetch into S3 read a spool there
            secrets=box,
        )
    if scanner is not None and config.scan_workers > 0:
        state.attach_scanner(
            ScanWorkers(
                meta,
                scanner(storage),
                workers=config.scan_workers,
                lease=config.scan_lease,
                poll=config.scan_poll,
                attempts=config.scan_attempts,
                retry_base=config.scan_retry,
            )
        )
    state.attach_replication(
        Replication(
            meta,
            state.manage,
            None if replicator is None else replicator(meta, storage),
            storage=storage,
            events=state.events,
            lease_ttl=config.replication_lease,
            secrets=box,
            manifests=state.manifests,  # pull rules store as pushes do
            uploads=state.uploads,
        )
    )
    return state


def serve(
    state: RegistryState,
    host: str,
    port: int,
    *,
    tls_cert: str | None = None,
    tls_key: str | None = None,
    log_level: str = "warning",
    header_timeout: float = 20.0,
    trusted_proxies: list[str] | None = None,
) -> None:
    """Serve until interrupted. ``X-Forwarded-For`` and ``-Proto`` are believed only
    from ``trusted_proxies`` (addresses or networks); requests whose headers take longer
    than ``header_timeout`` seconds are answered 408 and closed."""
    uvicorn.run(
        create_app(state),
        host=host,
        port=port,
        ssl_certfile=tls_cert,
        ssl_keyfile=tls_key,
        log_level=log_level,
        access_log=False,
        http=header_timeout_protocol(header_timeout),
        proxy_headers=bool(trusted_proxies),
        forwarded_allow_ips=list(trusted_proxies or []),
    )
