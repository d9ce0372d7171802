"""Registry access control: users with argon2 password hashes, projects (``project/repo``;
public projects allow anonymous pull), the Docker token flow (``WWW-Authenticate: Bearer``
challenges, a token endpoint issuing short-lived signed tokens with the granted actions)
HTTP basic auth, project roles
(guest, developer, maintainer, admin; plus system admins) and robot accounts with scoped,
expiring secrets. Failed logins are limited per user and address (``LoginLimiter``);
the token signing key lives in its own file (``token_key``)."""

from imageforge.registry.auth._access import (
    ROBOT_ACTIONS,
    ROLES,
    Access,
    Authorizer,
    Scope,
    is_robot,
    parse_scope,
    project_of,
    robot_name,
)
from imageforge.registry.auth._keys import KEY_FILE, token_key
from imageforge.registry.auth._limits import Lockout, LoginLimiter
from imageforge.registry.auth._robots import ROBOT_PATTERN, check_robot, create_robot
from imageforge.registry.auth._tokens import (
    TokenClaims,
    TokenIssuer,
    credential_version,
    subject_version,
)
from imageforge.registry.auth._users import bootstrap, hash_password, verify_password, warm_up

__all__ = [
    "KEY_FILE",
    "ROBOT_ACTIONS",
    "ROBOT_PATTERN",
    "ROLES",
    "Access",
    "Authorizer",
    "Lockout",
    "LoginLimiter",
    "Scope",
    "TokenClaims",
    "TokenIssuer",
    "bootstrap",
    "check_robot",
    "create_robot",
    "credential_version",
    "hash_password",
    "is_robot",
    "parse_scope",
    "project_of",
    "robot_name",
    "subject_version",
    "token_key",
    "verify_password",
    "warm_up",
]
