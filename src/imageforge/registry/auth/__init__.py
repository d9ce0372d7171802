"""Registry access control: users with argon2 password hashes, projects (``project/repo``;
public projects allow anonymous pull), the Docker token flow (``WWW-Authenticate: Bearer``
challenges, a token endpoint issuing short-lived signed tokens with the granted actions)
and HTTP basic auth."""

from imageforge.registry.auth._access import Access, Authorizer, Scope, parse_scope
from imageforge.registry.auth._tokens import TokenIssuer
from imageforge.registry.auth._users import bootstrap, hash_password, verify_password

__all__ = [
    "Access",
    "Authorizer",
    "Scope",
    "TokenIssuer",
    "bootstrap",
    "hash_password",
    "parse_scope",
    "verify_password",
]
