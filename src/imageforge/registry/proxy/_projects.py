"""Creating a project that is (or is not) a proxy cache: the one path the admin
command and the management API share, so both check the upstream the same way and
neither shows its password."""

from __future__ import annotations

from typing import Any

from imageforge.errors import InvalidArgument
from imageforge.registry._secrets import SecretBox
from imageforge.registry.proxy._store import ProxyStore, check_upstream_url, spec_json
from imageforge.registry.proxy._upstream import UpstreamSpec
from imageforge.registry.service import Management

__all__ = ["add_project", "upstream_spec"]


def upstream_spec(
    url: str | None, username: str | None, password: str | None
) -> UpstreamSpec | None:
    """The checked upstream of a new project (None: not a proxy cache)."""
    if url is None:
        if username is not None or password is not None:
            raise InvalidArgument("--username and a password go with --proxy-for")
        return None
    if (username is None) != (password is None):
        raise InvalidArgument(
            "an upstream username needs its password and a password its username",
            hint="--username U --password-stdin",
        )
    return UpstreamSpec(check_upstream_url(url), username, password)


def add_project(
    manage: Management,
    by: str | None,
    name: str,
    public: bool,
    immutable: list[str] | None,
    upstream: UpstreamSpec | None,
    secrets: SecretBox | None = None,
) -> dict[str, Any]:
    """Create the project (a proxy cache of ``upstream`` if given, its password sealed
    with ``secrets``), as ``Management.add_project`` does; what was created, without any
    password."""
    store = ProxyStore(manage.meta, secrets)
    if upstream is not None and upstream.password is not None:
        store.check_sealing()  # before the project is made
    created = manage.add_project(by, name, public, immutable)
    if upstream is None:
        store.remove(name)  # a row left by an earlier project of that name
        return created
    store.add(name, upstream)
    return {**created, **spec_json(upstream)}
