"""``doctor``: the cause of a failed build and its fix, from what the build left: the
error (its kind, message and the last lines the failing step printed), the Dockerfile
and the context facts (:mod:`imageforge.pipeline._build_history` keeps them for the last
failed build), or a build log a user saved.

The rules are tried in order, most specific first; each reads the package managers' and
tools' own words (pip's ``ResolutionImpossible``, npm's ``ERESOLVE``, apt's held broken
packages, Maven's dependency convergence and Spring's ``UnsatisfiedDependencyException``,
the kernel's ``exec format error``, ``No space left on device``...) and names what it
found: the conflicting packages and versions, and the line to add to pin one."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from imageforge.errors import InvalidArgument

__all__ = ["CAUSES", "Diagnosis", "FailedBuild", "diagnose", "failed_build_from_log"]


@dataclass(frozen=True)
class FailedBuild:
    """What a failed build left: the error ``message`` and ``hint``, its ``kind``
    (``StepFailed``, ``NotFound``...), the step's ``exit_code`` and last ``output``
    lines, the Dockerfile's text and the failing ``line`` in it, and the context's
    facts (``context``, its size in ``context_bytes``)."""

    message: str
    kind: str = ""
    hint: str = ""
    exit_code: int | None = None
    output: tuple[str, ...] = ()
    dockerfile: str = ""
    dockerfile_text: str = ""
    line: int = 0
    context: str = ""
    context_bytes: int | None = None

    @property
    def text(self) -> str:
        return "\n".join([self.message, *self.output])

    def to_json(self) -> dict[str, Any]:
        return {
            "message": self.message,
            "kind": self.kind,
            "hint": self.hint,
            "exitCode": self.exit_code,
            "output": list(self.output),
            "dockerfile": self.dockerfile,
            "dockerfileText": self.dockerfile_text,
            "line": self.line,
            "context": self.context,
            "contextBytes": self.context_bytes,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> FailedBuild:
        code = doc.get("exitCode")
        size = doc.get("contextBytes")
        return cls(
            message=str(doc.get("message") or ""),
            kind=str(doc.get("kind") or ""),
            hint=str(doc.get("hint") or ""),
            exit_code=code if isinstance(code, int) else None,
            output=tuple(str(x) for x in doc.get("output") or []),
            dockerfile=str(doc.get("dockerfile") or ""),
            dockerfile_text=str(doc.get("dockerfileText") or ""),
            line=int(doc.get("line") or 0),
            context=str(doc.get("context") or ""),
            context_bytes=size if isinstance(size, int) else None,
        )


@dataclass(frozen=True)
class Diagnosis:
    """``cause`` (one of :data:`CAUSES`), what happened (``summary``), what to do
    (``fix``), and the facts it read (``details``: packages, versions, paths)."""

    cause: str
    summary: str
    fix: str
    details: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {
            "cause": self.cause,
            "summary": self.summary,
            "fix": self.fix,
            "details": list(self.details),
        }


_Rule = Callable[[FailedBuild], Diagnosis | None]
_LARGE_CONTEXT = 500 * 1024 * 1024


def _first(pattern: str, text: str, flags: int = 0) -> re.Match[str] | None:
    return re.search(pattern, text, flags | re.MULTILINE)


def _copy_source(b: FailedBuild) -> Diagnosis | None:
    m = _first(r"COPY source '([^']+)': excluded by \.dockerignore", b.message)
    if m:
        return Diagnosis(
            "copy-excluded",
            f"COPY source {m[1]} is excluded by .dockerignore",
            f"remove the pattern that matches {m[1]} from {b.context or 'the context'}/"
            f".dockerignore (or add a line !{m[1]} after it), or do not COPY it",
            (m[1],),
        )
    m = _first(r"(?:COPY|ADD) source '([^']+)': not found", b.message)
    if m:
        return Diagnosis(
            "copy-missing",
            f"COPY source {m[1]} is not in the build context",
            f"paths are relative to the context ({b.context or 'the directory built'}), not"
            " to the Dockerfile: fix the path, or build from the directory that holds it",
            (m[1],),
        )
    return None


def _disk_full(b: FailedBuild) -> Diagnosis | None:
    if "No space left on device" not in b.text and "ENOSPC" not in b.text:
        return None
    m = _first(r"[\w'\"]*?'?(/[^\s':]+)'?: No space left on device", b.text)
    where = m[1] if m else "the filesystem the step wrote to"
    return Diagnosis(
        "disk-full",
        f"no space left on device writing {where}",
        "free space (imageforge prune, and remove what the step downloads in the same RUN)"
        " or give the mount more room (a tmpfs mount's size=, the store's filesystem)",
        (where,),
    )


def _exec_format(b: FailedBuild) -> Diagnosis | None:
    if not re.search(
        r"exec format error|Invalid ELF image for this architecture|cannot execute binary"
        r" file|wrong ELF class",
        b.text,
        re.IGNORECASE,
    ):
        return None
    return Diagnosis(
        "exec-format",
        "a program of another platform (architecture) was run",
        "use a base image and binaries built for the build's platform, or build with"
        " --platform for the binary's (qemu-user runs other architectures)",
    )


_PIP_ASKED = re.compile(r"^\s+The user requested (\S+)$", re.M)
_PIP_NEEDS = re.compile(r"^\s+(\S+) (\S+) depends on (.+?)\s*$", re.M)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*")


def _pip(b: FailedBuild) -> Diagnosis | None:
    if "ResolutionImpossible" not in b.text:
        return None
    asked = [m[1] for m in _PIP_ASKED.finditer(b.text)]
    needs = [(m[1], m[2], m[3]) for m in _PIP_NEEDS.finditer(b.text)]
    details = tuple(f"requested {a}" for a in asked) + tuple(
        f"{who} {version} depends on {what}" for who, version, what in needs
    )
    names = sorted({n[0] for x in [*asked, *(w for _, _, w in needs)] if (n := _NAME.match(x))})
    fix = "pin versions that satisfy every requirement named (pip install --dry-run checks)"
    for who, version, what in needs:
        name = _NAME.match(what)
        if name is None:
            continue
        wanted = what[name.end() :].replace(" and ", ",").replace(" ", "")
        mine = next((a for a in asked if a.startswith(name[0])), None)
        pin = f"{name[0]}{wanted}" if wanted else name[0]
        fix = (
            f"in requirements.txt replace {mine} with {pin} (what {who} {version} needs),"
            f" or take a {who} release that accepts {mine.removeprefix(name[0])}"
            if mine
            else f"add {pin} to requirements.txt (what {who} {version} needs)"
        )
        break
    return Diagnosis(
        "pip-conflict",
        f"pip cannot install the requirements together: {', '.join(names) or 'a conflict'}",
        fix,
        details,
    )


def _npm(b: FailedBuild) -> Diagnosis | None:
    if "ERESOLVE" not in b.text:
        return None
    resolving = _first(r"While resolving: (\S+)", b.text)
    found = _first(r"Found: (\S+)", b.text)
    peer = _first(
        r"(?:Could not resolve dependency:\s*\S*\s*)?peer (\S+?)@\"?([^\"\s]+)\"? from (\S+)",
        b.text,
    )
    details = tuple(
        x
        for x in (
            f"while resolving {resolving[1]}" if resolving else "",
            f"found {found[1]}" if found else "",
            f"{peer[3]} wants peer {peer[1]}@{peer[2]}" if peer else "",
        )
        if x
    )
    fix = (
        f'set "{peer[1]}": "{peer[2]}" in package.json\'s dependencies (the peer'
        f" {peer[3]} wants; {found[1]} is installed now), or take a release of"
        f" {peer[3].rsplit('@', 1)[0]} whose peer range accepts {found[1]}"
        if peer and found
        else "align the peer dependency's version with what the package wants"
    ) + "; --legacy-peer-deps only hides it"
    return Diagnosis("npm-peer-conflict", "npm cannot resolve a peer dependency", fix, details)


# apt's report: "The following packages have unmet dependencies:", then per package
# " pkg : Depends: dep (= 1.0) but it is not going to be installed" (or "but 2.0 is to be
# installed", "but it is not installable"), a package's further ones on lines of their own
_APT_UNMET = re.compile(
    r"^\s*(?:(\S+) :)?\s+(?:Pre)?Depends: (\S+)(?: \(([^)]+)\))?(?: but (.+?))?\s*$", re.M
)


def _apt_unmet(text: str) -> list[tuple[str, str, str, str]]:
    """(package, dependency, relation, what apt says of it) per unmet dependency."""
    at = text.find("have unmet dependencies")
    found: list[tuple[str, str, str, str]] = []
    who = ""
    for m in _APT_UNMET.finditer(text, at if at >= 0 else 0):
        who = m[1] or who
        if who:
            found.append((who, m[2], m[3] or "", m[4] or ""))
    return list(dict.fromkeys(found))


def _apt_fix(who: str, dep: str, relation: str, state: str) -> str:
    op, _, version = relation.partition(" ")
    if op == "=":
        return (
            f"ask for the {dep} {who} was built against in the same apt-get install:"
            f" apt-get install {who} {dep}={version} (apt takes the newest {dep} otherwise),"
            f" or take {who} and {dep} from one release"
        )
    if relation:
        return (
            f"install a {dep} that satisfies {dep} ({relation}) in the same apt-get install"
            f" (apt-cache policy {dep} lists the versions): apt-get install {who}"
            f" {dep}=VERSION, or take {who} and {dep} from one release"
        )
    return (
        f"{dep} {state or 'cannot be installed'}: add the release that has it to the"
        f" sources, or take {who} from the release the others come from"
    )


def _apt(b: FailedBuild) -> Diagnosis | None:
    if "held broken packages" in b.text or "Unmet dependencies" in b.text:
        deps = _apt_unmet(b.text)
        details = tuple(
            f"{who} needs {dep}{f' ({rel})' if rel else ''}{f', but {state}' if state else ''}"
            for who, dep, rel, state in deps
        )
        fix = (
            _apt_fix(*deps[0])
            if deps
            else "install the packages from one release (no mixing of suites), pinning the"
            " one apt names"
        )
        names = ", ".join(dict.fromkeys(x for who, dep, _, _ in deps for x in (who, dep)))
        return Diagnosis(
            "apt-conflict",
            "apt found unmet dependencies (held broken packages)"
            + (f" between {names}" if names else ""),
            fix,
            details,
        )
    m = _first(
        r"Unable to locate package (\S+)|Package '?(\S+?)'? has no installation candidate", b.text
    )
    if m:
        name = m[1] or m[2]
        return Diagnosis(
            "apt-missing",
            f"apt does not know the package {name}",
            "run apt-get update in the same RUN before apt-get install, and check the name"
            f" (apt-cache search {name}) and the release's components",
            (name,),
        )
    return None


_MAVEN_GAV = re.compile(
    r"(?<![\w.])([A-Za-z][\w.-]*:[A-Za-z][\w.-]*):(?:jar:|pom:|war:)?(\d[\w.-]*)"
)
# Maven's own line prefixes ("[ERROR] ", "[WARNING] "): the enforcer prints its report
# after one of them or on lines of its own, depending on its version
_MAVEN_LEVEL = re.compile(r"^\[(?:ERROR|WARNING|WARN|INFO|DEBUG)\] ?", re.M)
_CONVERGENCE = re.compile(r"^Dependency convergence error for ([\w.-]+:[\w.-]+):")
_TREE_NODE = re.compile(r"^\s*\+-\s*(\S+)")


def _coordinate(text: str) -> tuple[str, str]:
    """``groupId:artifactId`` and the version of a Maven coordinate as the enforcer
    prints it (``g:a:type[:classifier]:version[:scope]``, or ``g:a:version``)."""
    parts = text.split(":")
    ga = ":".join(parts[:2])
    if len(parts) <= 3:
        return ga, parts[-1]
    if len(parts) == 4:  # the project itself: g:a:packaging:version
        return ga, parts[3]
    return ga, parts[-2]  # scope last, version before it


def _convergence(text: str) -> dict[str, dict[str, list[str]]]:
    """The enforcer's ``dependencyConvergence`` report: for each artifact whose
    versions do not converge, each version and who brings it (the path's last node
    before it: ``g:a:version``), in the order the report lists the paths."""
    found: dict[str, dict[str, list[str]]] = {}
    lines = text.splitlines()
    for i, line in enumerate(lines):
        head = _CONVERGENCE.match(line)
        if head is None:
            continue
        versions = found.setdefault(head[1], {})
        path: list[str] = []
        for raw in [*lines[i + 1 :], ""]:
            node = _TREE_NODE.match(raw)
            if node:
                path.append(node[1])
                continue
            if path:  # a path ended ("and", a blank line, the next report)
                ga, version = _coordinate(path[-1])
                if ga == head[1]:
                    who = _coordinate(path[-2]) if len(path) > 1 else (ga, version)
                    versions.setdefault(version, []).append(f"{who[0]}:{who[1]}")
                path = []
            if raw.strip() != "and":
                break
    return {ga: vs for ga, vs in found.items() if len(vs) > 1}


def _newest_maven(versions: Sequence[str]) -> list[str]:
    """``versions`` oldest first, as Maven orders them."""
    from imageforge.vuln import version_key  # the version schemes load only when needed

    return sorted(versions, key=lambda v: version_key("maven", v))


def _maven_convergence(text: str) -> Diagnosis | None:
    conflicts = _convergence(text)
    if not conflicts:
        return None
    details: list[str] = []
    ordered: dict[str, list[str]] = {}
    for ga, brought in conflicts.items():
        ordered[ga] = _newest_maven(list(brought))
        details.append(f"{ga}: {', '.join(ordered[ga])}")
        details.extend(
            f"{who} brings {ga}:{version}" for version, whos in brought.items() for who in whos
        )
    pins = [
        f"<dependency><groupId>{ga.split(':')[0]}</groupId><artifactId>{ga.split(':')[1]}"
        f"</artifactId><version>{versions[-1]}</version></dependency>"
        for ga, versions in ordered.items()
    ]
    names = ", ".join(f"{ga} ({' vs '.join(vs)})" for ga, vs in ordered.items())
    first = next(iter(ordered))
    return Diagnosis(
        "maven-conflict",
        f"Maven dependencies bring different versions of {names}",
        "pin one version in pom.xml's <dependencyManagement><dependencies>: "
        + " ".join(pins)
        + " (the newest one asked for; check that what brings the older works with it);"
        f" mvn dependency:tree -Dverbose -Dincludes={first} shows who brings each",
        tuple(details),
    )


def _maven(b: FailedBuild) -> Diagnosis | None:
    text = _MAVEN_LEVEL.sub("", b.text)
    found = _maven_convergence(text)
    if found is not None:
        return found
    if (
        "Dependency convergence error" in text
        or "UnsatisfiedDependencyException" in text
        or ("Could not resolve dependencies" in text)
    ):
        artifacts = sorted(set(_MAVEN_GAV.findall(text)))
        details = tuple(f"{ga}:{v}" for ga, v in artifacts[:5])
        fix = (
            "run mvn dependency:tree -Dverbose to see the conflicting versions, and pin"
            " one in <dependencyManagement>"
        )
        return Diagnosis("maven-conflict", "Maven dependency conflict", fix, details)
    return None


def _network(b: FailedBuild) -> Diagnosis | None:
    text = b.text
    dns = _first(
        r"bad address '([^']+)'|Could not resolve host:? '?([\w.-]+)|Temporary failure in name"
        r" resolution|Name or service not known|getaddrinfo \w+ ([\w.-]+)|Could not resolve"
        r" '([\w.-]+)'",
        text,
    )
    if dns:
        host = next((g for g in dns.groups() if g), "")
        return Diagnosis(
            "network-dns",
            f"name resolution failed{f' for {host}' if host else ''}",
            "check the name, and that the build has a network (--network, the host's"
            " /etc/resolv.conf, a proxy in HTTP_PROXY as --build-arg)",
            (host,) if host else (),
        )
    refused = _first(
        r"Connection refused|Network is unreachable|Connection timed out|timed out|Failed to"
        r" establish a new connection|ECONNREFUSED|ETIMEDOUT|No route to host",
        text,
    )
    if refused:
        return Diagnosis(
            "network",
            f"a network connection failed ({refused[0]})",
            "check that the server is up and reachable from the build (--network, a proxy"
            " as --build-arg HTTP_PROXY), or vendor what the step downloads into the context",
            (refused[0],),
        )
    return None


def _user_before(b: FailedBuild) -> str | None:
    """The USER set before the failing line, when one is (not root)."""
    user = None
    for number, raw in enumerate(b.dockerfile_text.splitlines(), 1):
        if b.line and number >= b.line:
            break
        words = raw.split()
        if words and words[0].upper() == "USER" and len(words) > 1:
            user = words[1]
        elif words and words[0].upper() == "FROM":
            user = None
    return user if user not in (None, "root", "0", "0:0") else None


def _permission(b: FailedBuild) -> Diagnosis | None:
    m = _first(r"([^\s:']*)'?:? Permission denied|EACCES", b.text)
    if not m:
        return None
    user = _user_before(b)
    path = m[1] if m.lastindex else ""
    if user:
        return Diagnosis(
            "permission-after-user",
            f"permission denied{f' on {path}' if path else ''} running as USER {user}",
            f"do what needs root before USER {user}, or give {user} the files (COPY"
            f" --chown={user}, or RUN chown in a step before USER)",
            tuple(x for x in (path, user) if x),
        )
    return Diagnosis(
        "permission",
        f"permission denied{f' on {path}' if path else ''}",
        "check the file's mode and owner (COPY --chmod/--chown), and the mount it is on",
        (path,) if path else (),
    )


def _not_found_command(b: FailedBuild) -> Diagnosis | None:
    m = _first(r"(\S+): (?:command )?not found$", b.text)
    if b.exit_code != 127 and not m:
        return None
    name = m[1].rsplit(":", 1)[-1].strip() if m else ""
    return Diagnosis(
        "command-not-found",
        f"the command {name or 'run'} is not in the image",
        "install the package that provides it in an earlier step (or the same RUN), or"
        " use a base image that has it; check PATH and the spelling",
        (name,) if name else (),
    )


def _context(b: FailedBuild) -> Diagnosis | None:
    if b.context_bytes is None or b.context_bytes < _LARGE_CONTEXT:
        return None
    return Diagnosis(
        "context-too-large",
        f"the build context is {b.context_bytes // (1024 * 1024)} MiB",
        "add what the build does not need (.git, node_modules, build output, data) to"
        " .dockerignore, or build from a smaller directory",
        (b.context,),
    )


def _step(b: FailedBuild) -> Diagnosis | None:
    if b.kind != "StepFailed" and b.exit_code is None:
        return None
    last = next((x for x in reversed(b.output) if x.strip()), "")
    return Diagnosis(
        "step-failed",
        f"a RUN step exited with code {b.exit_code}",
        "read the step's last lines below; run the command in `imageforge run` on the image"
        " of the step before to try it",
        (last,) if last else (),
    )


_RULES: Sequence[_Rule] = (
    _copy_source,
    _disk_full,
    _exec_format,
    _pip,
    _npm,
    _apt,
    _maven,
    _network,
    _permission,
    _not_found_command,
    _context,
    _step,
)

CAUSES = (
    "copy-excluded",
    "copy-missing",
    "disk-full",
    "exec-format",
    "pip-conflict",
    "npm-peer-conflict",
    "apt-conflict",
    "apt-missing",
    "maven-conflict",
    "network-dns",
    "network",
    "permission-after-user",
    "permission",
    "command-not-found",
    "context-too-large",
    "step-failed",
    "unknown",
)
"""Every cause a diagnosis names (``stats builds`` counts failures by them)."""


def diagnose(build: FailedBuild) -> Diagnosis:
    """The first rule's diagnosis that recognises ``build``; ``unknown`` otherwise."""
    for rule in _RULES:
        found = rule(build)
        if found is not None:
            return found
    return Diagnosis(
        "unknown",
        build.message.splitlines()[0] if build.message else "the build failed",
        build.hint or "read the error above; imageforge doctor knows no rule for it",
    )


_ERROR_LINE = re.compile(
    r"^(?:error|ERROR|E):|^npm (?:ERR!|error) |^\[ERROR\]|exited with code \d+|"
    r"ResolutionImpossible|ERESOLVE|Traceback \(most recent call last\)|failed to solve",
    re.MULTILINE,
)


# terminal colours (Maven's and npm's logs keep them when saved from a terminal)
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def failed_build_from_log(text: str, where: str) -> FailedBuild:
    """A saved build log (``imageforge build``'s, or a tool's output in it) as a
    :class:`FailedBuild`; InvalidArgument when it holds no error at all."""
    text = _ANSI.sub("", text)
    if "\0" in text or not _ERROR_LINE.search(text):
        raise InvalidArgument(
            f"{where} is not a log of a failed build: it has no error line",
            hint="give the output of the failed build (imageforge build ... 2> build.log),"
            " or use doctor --last",
        )
    lines = text.splitlines()
    first = next((x for x in lines if x.startswith("error:")), "") or next(
        (x for x in lines if _ERROR_LINE.search(x)), ""
    )
    code = _first(r"exited with code (\d+)", text)
    where_line = _first(r"Dockerfile:(\d+)", first)
    return FailedBuild(
        message=first.removeprefix("error: ") or lines[0],
        kind="StepFailed" if code else "",
        exit_code=int(code[1]) if code else None,
        output=tuple(lines),
        line=int(where_line[1]) if where_line else 0,
    )
