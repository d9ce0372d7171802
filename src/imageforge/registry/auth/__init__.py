"""Registry access control: users with argon2 password hashes, projects (``project/repo``;
public projects allow anonymous pull), the Docker token flow (``WWW-Authenticate: Bearer``
challenges, a token endpoint issuing short-lived signed tokens with the granted actions)
HTTP basic auth, project roles
(guest, developer, maintainer, admin; plus system admins) and robot accounts with scoped,
expiring secrets."""

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
from imageforge.registry.auth._robots import check_robot, create_robot
from imageforge.registry.auth._tokens import TokenIssuer
from imageforge.registry.auth._users import bootstrap, hash_password, verify_password

__all__ = [
    "ROBOT_ACTIONS",
    "ROLES",
    "Access",
    "Authorizer",
    "Scope",
    "TokenIssuer",
    "bootstrap",
    "check_robot",
    "create_robot",
    "hash_password",
    "is_robot",
    "parse_scope",
    "project_of",
    "robot_name",
    "verify_password",
]
