"""The checks of a built image, grouped as lint's rules are, by the guide's sections:
IM1xx the base image (1.1), IM2xx layers (1.2, 4.1), IM4xx what ships in the final
image (2.2), IM5xx least privilege (3.1), IM7xx general hygiene.

Each reads only :class:`~imageforge.misconfig.ImageFacts`: the config, the history and
the merged filesystem's metadata, so it works on an image from any source (a build, a
pull, an archive), not only on one whose Dockerfile is at hand."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

from imageforge.layers import EntryType, FsNode
from imageforge.misconfig._model import Check, Hit, ImageFacts

__all__ = ["CHECKS", "check"]

BASE_NAME: Final = "org.opencontainers.image.base.name"
BASE_DIGEST: Final = "org.opencontainers.image.base.digest"
_DIGEST: Final = re.compile(r"@sha256:[0-9a-f]{64}$|^sha256:[0-9a-f]{64}$")


def _base(facts: ImageFacts) -> tuple[str | None, str | None]:
    """The base image's name and digest as the image records them (manifest annotations,
    as buildah writes them, or labels of the same names)."""
    for where in (facts.annotations, facts.labels):
        name, digest = where.get(BASE_NAME), where.get(BASE_DIGEST)
        if name or digest:
            return (str(name) if name else None), (str(digest) if digest else None)
    return None, None


def _base_unpinned(facts: ImageFacts) -> Iterator[Hit]:
    name, digest = _base(facts)
    if name is None and digest is None:
        return
    if (digest and _DIGEST.search(digest)) or (name and _DIGEST.search(name)):
        return
    yield Hit(f"the base image is recorded as {name!r} without a digest")


def _base_unrecorded(facts: ImageFacts) -> Iterator[Hit]:
    name, digest = _base(facts)
    if name is None and digest is None and len(facts.layers) > facts.base_layers > 0:
        yield Hit(
            f"{len(facts.layers) - facts.base_layers} layer(s) were built on a base image "
            "the image does not name (no org.opencontainers.image.base.name/digest)"
        )


# -- package manager caches ------------------------------------------------------------

_CACHES: Final = (
    ("apt package cache", re.compile(r"^var/cache/apt/(archives/[^/]+\.deb|[^/]+\.bin)$")),
    ("apt package lists", re.compile(r"^var/lib/apt/lists/(?!lock$|partial(/|$)|auxfiles(/|$))")),
    ("apk cache", re.compile(r"^(var/cache/apk|etc/apk/cache)/[^/]+$")),
    ("yum/dnf cache", re.compile(r"^var/cache/(yum|dnf|libdnf5)/")),
    ("pip cache", re.compile(r"^(root|home/[^/]+)/\.cache/pip/")),
    ("npm cache", re.compile(r"^(root|home/[^/]+)/\.npm/_cacache/")),
    ("yarn cache", re.compile(r"^(usr/local/share/\.cache/yarn|(root|home/[^/]+)/\.cache/yarn)/")),
    (
        "Go build and module cache",
        re.compile(r"^(root|home/[^/]+)/(\.cache/go-build|go/pkg/mod/cache)/"),
    ),
    ("Maven repository", re.compile(r"^(root|home/[^/]+)/\.m2/repository/")),
)


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.1f} kB"


def _caches(facts: ImageFacts) -> Iterator[Hit]:
    found: dict[str, list[FsNode]] = {}
    for path, node in facts.nodes.items():
        if node.type not in (EntryType.FILE, EntryType.HARDLINK):
            continue
        for name, pattern in _CACHES:
            if pattern.search(path):
                found.setdefault(name, []).append(node)
                break
    for name, nodes in found.items():
        size = sum(n.size for n in nodes)
        top = max(nodes, key=lambda n: n.layer)
        where = top.path.rsplit("/", 1)[0]
        yield Hit(
            f"{name}: {len(nodes)} file(s), {_size(size)}, under /{where}",
            "/" + where,
            facts.origin(top),
        )


# -- what ships ------------------------------------------------------------------------

_BIN_DIRS: Final = re.compile(r"^(usr/(local/)?)?s?bin/|^usr/lib/go[^/]*/bin/|^usr/local/go/bin/")
_COMPILERS: Final = re.compile(
    r"^(?:[a-z0-9_]+-linux-gnu[a-z]*-)?(gcc|g\+\+|cc|c\+\+|clang|clang\+\+|tcc|gfortran|rustc"
    r"|cargo|javac|go|make|cmake)(-[0-9][0-9.]*)?$"
)
_PACKAGE_MANAGERS: Final = re.compile(
    r"^(apt|apt-get|aptitude|dpkg|apk|yum|dnf|microdnf|rpm|zypper|pip[0-9.]*|npm|yarn|pnpm|gem"
    r"|conda)$"
)


def _tools(facts: ImageFacts, names: re.Pattern[str]) -> Iterator[Hit]:
    seen: dict[str, FsNode] = {}
    for path, node in facts.nodes.items():
        if node.type is EntryType.DIR or not _BIN_DIRS.search(path):
            continue
        name = path.rsplit("/", 1)[-1]
        m = names.match(name)
        if m is not None:
            seen.setdefault(m.group(1), node)
    for tool in sorted(seen):
        node = seen[tool]
        yield Hit(f"{tool} (/{node.path})", "/" + node.path, facts.origin(node))


def _compilers(facts: ImageFacts) -> Iterator[Hit]:
    return _tools(facts, _COMPILERS)


def _package_managers(facts: ImageFacts) -> Iterator[Hit]:
    return _tools(facts, _PACKAGE_MANAGERS)


# -- least privilege -------------------------------------------------------------------


def _user(facts: ImageFacts) -> tuple[str, int | None]:
    """The configured user as written and its uid (None when a name is not in the
    image's /etc/passwd)."""
    text = str(facts.runtime.get("User") or "").strip()
    name = text.split(":", 1)[0]
    if not name:
        return text, 0
    if name.isdigit():
        return text, int(name)
    return text, facts.users.get(name)


def _root(facts: ImageFacts) -> Iterator[Hit]:
    text, uid = _user(facts)
    if not text:
        yield Hit("no USER is set, so the container runs as root (uid 0)")
    elif uid == 0:
        yield Hit(f"USER {text} is root (uid 0)")


def _non_numeric(facts: ImageFacts) -> Iterator[Hit]:
    text, uid = _user(facts)
    name = text.split(":", 1)[0]
    if name and not name.isdigit() and uid != 0:
        known = f" (uid {uid} in /etc/passwd)" if uid is not None else " (not in /etc/passwd)"
        yield Hit(f"USER {text} is a name{known}")


def _ssh(facts: ImageFacts) -> Iterator[Hit]:
    ports = facts.runtime.get("ExposedPorts") or {}
    for port in ports:
        if str(port).split("/", 1)[0] == "22" and not str(port).endswith("/udp"):
            yield Hit(f"EXPOSE {port}")


def _setuid(facts: ImageFacts) -> Iterator[Hit]:
    for path, node in sorted(facts.nodes.items()):
        if node.type is not EntryType.FILE or not node.mode & 0o6000:
            continue
        if node.layer < facts.base_layers:
            continue
        bits = (
            "setuid and setgid"
            if node.mode & 0o6000 == 0o6000
            else ("setuid" if node.mode & 0o4000 else "setgid")
        )
        yield Hit(f"/{path} is {bits} (mode {node.mode:04o})", "/" + path, facts.origin(node))


def _world_writable(facts: ImageFacts) -> Iterator[Hit]:
    for path, node in sorted(facts.nodes.items()):
        if node.type is EntryType.DIR and node.mode & 0o002 and not node.mode & 0o1000:
            yield Hit(
                f"/{path} (mode {node.mode:04o}) is writable by every user and has no sticky bit",
                "/" + path,
                facts.origin(node),
            )


_SECRET_NAME: Final = re.compile(
    r"(?i)(PASSWORD|PASSWD|PASSPHRASE|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIAL)"
)
_NOT_A_VALUE: Final = re.compile(r"(?i)_(FILE|PATH|DIR|URL_FILE|LENGTH|SIZE|TTL|TIMEOUT|ENABLED)$")


def _env_secrets(facts: ImageFacts) -> Iterator[Hit]:
    for item in facts.runtime.get("Env") or []:
        name, sep, value = str(item).partition("=")
        if not sep or not _SECRET_NAME.search(name) or _NOT_A_VALUE.search(name):
            continue
        value = value.strip()
        # a reference to the secret (a file, a variable) is how it should be done
        if len(value) < 4 or value.startswith(("/", "$", "{{")) or value.isdigit():
            continue
        if value.lower() in ("true", "false", "none", "null", "changeme", "<redacted>"):
            continue
        yield Hit(f"ENV {name} holds a value ({len(value)} characters; not shown)", "config")


# -- hygiene ---------------------------------------------------------------------------


def _healthcheck(facts: ImageFacts) -> Iterator[Hit]:
    check = facts.runtime.get("Healthcheck")
    test = check.get("Test") if isinstance(check, dict) else None
    if not test:
        yield Hit("the image defines no HEALTHCHECK")
    elif test == ["NONE"]:
        yield Hit("HEALTHCHECK NONE switches the base image's check off")


CHECKS: Final[tuple[Check, ...]] = (
    Check(
        "IM101",
        "base-image-without-digest",
        "1.1",
        "MEDIUM",
        "The base image is recorded without a digest",
        "A tag moves: the image was built from whatever the tag named that day, and nobody "
        "can tell later which base it was or rebuild it.",
        "Build FROM name:tag@sha256:... so the base is recorded with its digest.",
        "FROM debian:bookworm-slim\n",
        "FROM debian:bookworm-slim@sha256:<digest>\n",
        _base_unpinned,
    ),
    Check(
        "IM102",
        "base-image-not-recorded",
        "1.1",
        "LOW",
        "The image does not say which base image it was built on",
        "Without org.opencontainers.image.base.name and .digest nobody can tell which base "
        "(and which of its vulnerabilities) an image carries, or when to rebuild it.",
        "Record the base: buildah does by default; otherwise add the two annotations.",
        "FROM debian:bookworm-slim\nRUN make install\n",
        "FROM debian:bookworm-slim@sha256:<digest>\nRUN make install\n"
        "# built with org.opencontainers.image.base.name/digest annotations\n",
        _base_unrecorded,
    ),
    Check(
        "IM201",
        "package-manager-cache",
        "1.2",
        "LOW",
        "Package manager caches are left in the image",
        "Downloaded packages and index files are bytes every pull transfers and every node "
        "stores, and they go stale at once.",
        "Clean them in the same RUN that installs: `rm -rf /var/lib/apt/lists/*`, "
        "`apk add --no-cache`, `pip install --no-cache-dir`, `npm ci && npm cache clean "
        "--force`, or use a cache mount (RUN --mount=type=cache).",
        "RUN apt-get update && apt-get install -y curl\n",
        "RUN apt-get update && apt-get install -y --no-install-recommends curl \\\n"
        "    && rm -rf /var/lib/apt/lists/*\n",
        _caches,
    ),
    Check(
        "IM401",
        "compiler-in-final-image",
        "2.2",
        "MEDIUM",
        "Compilers or build tools ship in the final image",
        "A compiler in production helps an attacker build tools on the spot and adds size "
        "and vulnerabilities; the guide's multi-stage builds leave the toolchain behind.",
        "Build in a stage of its own and COPY --from it only what runs.",
        'FROM golang:1.22\nCOPY . .\nRUN go build -o /app .\nCMD ["/app"]\n',
        "FROM golang:1.22 AS build\nCOPY . .\nRUN go build -o /app .\n"
        'FROM gcr.io/distroless/static\nCOPY --from=build /app /app\nCMD ["/app"]\n',
        _compilers,
    ),
    Check(
        "IM402",
        "package-manager-in-final-image",
        "2.2",
        "LOW",
        "A package manager ships in the final image",
        "A package manager lets a compromised container install whatever it needs; images "
        "that only run an application can do without one.",
        "Use a distroless or scratch final stage when the application needs no packages at "
        "run time.",
        "FROM debian:bookworm-slim\nCOPY app /app\n",
        "FROM gcr.io/distroless/base-debian12\nCOPY app /app\n",
        _package_managers,
    ),
    Check(
        "IM501",
        "runs-as-root",
        "3.1",
        "HIGH",
        "The image runs as root",
        "The guide's least privilege: most container escapes start from a process running "
        "as root; a user of its own limits what a compromised process can do.",
        "Create a user and end with USER 10001:10001 (numeric, so Kubernetes can verify "
        "runAsNonRoot).",
        'FROM debian:bookworm-slim\nCOPY app /app\nCMD ["/app"]\n',
        "FROM debian:bookworm-slim\nRUN useradd -u 10001 app\nCOPY app /app\n"
        'USER 10001:10001\nCMD ["/app"]\n',
        _root,
    ),
    Check(
        "IM502",
        "user-not-numeric",
        "3.1",
        "LOW",
        "USER names a user instead of a numeric uid",
        "Kubernetes' runAsNonRoot can only verify a numeric user; a name could map to uid 0 "
        "in another /etc/passwd.",
        "Write the uid (and gid): USER 10001:10001.",
        "USER app\n",
        "USER 10001:10001\n",
        _non_numeric,
    ),
    Check(
        "IM503",
        "ssh-port-exposed",
        "3.1",
        "MEDIUM",
        "The SSH port is exposed",
        "A container is not a machine to log into; an SSH server is one more service with "
        "credentials to steal and patch.",
        "Remove the SSH server and EXPOSE 22; use `kubectl exec` or `podman exec` to debug.",
        "EXPOSE 22\n",
        "EXPOSE 8080\n",
        _ssh,
    ),
    Check(
        "IM504",
        "setuid-setgid-added",
        "3.1",
        "MEDIUM",
        "Setuid or setgid files were added on top of the base image",
        "A setuid or setgid program runs with its owner's rights whoever starts it: the "
        "classic way from a compromised process to root.",
        "Do not add them, or clear the bits (chmod u-s,g-s) in the same RUN that installs "
        "them; run with no-new-privileges.",
        "RUN cp /bin/busybox /usr/local/bin/tool && chmod u+s /usr/local/bin/tool\n",
        "RUN cp /bin/busybox /usr/local/bin/tool\n",
        _setuid,
    ),
    Check(
        "IM505",
        "world-writable-directory",
        "3.1",
        "MEDIUM",
        "A directory is writable by everyone and has no sticky bit",
        "Any user can replace or delete other users' files in it (and plant programs other "
        "processes run).",
        "chmod o-w the directory, or chmod +t it if it must be shared like /tmp.",
        "RUN mkdir /shared && chmod 777 /shared\n",
        "RUN mkdir /shared && chmod 1777 /shared\n",
        _world_writable,
    ),
    Check(
        "IM506",
        "secret-in-env",
        "3.1",
        "HIGH",
        "ENV holds what looks like a secret",
        "ENV values are stored in the image config: anyone who can pull the image can read "
        "them, and every container inherits them.",
        "Pass secrets at run time (a secret mount, an orchestrator's secret), or set "
        "NAME_FILE=/run/secrets/name and read the file.",
        "ENV DB_PASSWORD=s3cr3t-value\n",
        "ENV DB_PASSWORD_FILE=/run/secrets/db_password\n",
        _env_secrets,
    ),
    Check(
        "IM701",
        "no-healthcheck",
        "4.2",
        "LOW",
        "The image has no HEALTHCHECK",
        "Without a health check a runtime only knows the process exists, not that it serves: "
        "a hung service is never restarted.",
        "Add HEALTHCHECK CMD [...] that probes the service (or define a probe in the "
        "orchestrator, and accept this finding).",
        'CMD ["/app"]\n',
        'HEALTHCHECK --interval=30s CMD ["/app", "--health"]\nCMD ["/app"]\n',
        _healthcheck,
    ),
)


def check(check_id: str) -> Check:
    """The check with id ``check_id``; :class:`KeyError` when there is none."""
    for c in CHECKS:
        if c.id == check_id:
            return c
    raise KeyError(check_id)
