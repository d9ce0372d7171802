"""Section 3.1 of the guide: least privilege (IF5xx)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from imageforge.dockerfile import Add, Arg, Copy, Env, Expose, Run, User
from imageforge.lint._facts import chain_instructions, run_commands
from imageforge.lint._model import Hit, LintInput, Rule, hit
from imageforge.report import Severity

__all__ = ["PRIVILEGE_RULES"]

_ROOT = {"root", "0"}


def _root_user(lint: LintInput) -> Iterator[Hit]:
    final = lint.final
    if final is None:
        return
    last: User | None = None
    for _stage, instr in chain_instructions(lint):
        if isinstance(instr, User):
            last = instr
    if last is not None:
        user = last.user.split(":", 1)[0].strip()
        if user in _ROOT:
            yield hit(last, "the last USER is root")
        return
    root = lint.runtime_root(final)
    tag = root.ref.tag if root.ref and root.ref.tag else ""
    if "nonroot" in tag:
        return  # distroless :nonroot images already run as 65532
    yield hit(final.from_, "no USER in the final stage, so it runs as root")


def _runs_sudo(words: tuple[str, ...]) -> bool:
    for w in words:
        if "=" in w and w.split("=", 1)[0].isidentifier():
            continue  # VAR=value before the command
        return w.rsplit("/", 1)[-1] == "sudo"
    return False


def _sudo(lint: LintInput) -> Iterator[Hit]:
    for stage in lint.dockerfile.stages:
        for instr in stage.instructions:
            if isinstance(instr, Run) and any(_runs_sudo(c.words) for c in run_commands(instr)):
                yield hit(instr, "sudo in a RUN")


_WORLD = re.compile(r"^(0?777|[augo]*\+rwx|a=rwx|ugo=rwx)$")


def _chmod(lint: LintInput) -> Iterator[Hit]:
    for stage in lint.dockerfile.stages:
        for instr in stage.instructions:
            if isinstance(instr, Copy | Add) and instr.chmod and _WORLD.match(instr.chmod):
                yield hit(instr, f"--chmod={instr.chmod}")
            if isinstance(instr, Run):
                for c in run_commands(instr):
                    if c.program == "chmod" and any(_WORLD.match(w) for w in c.words[1:]):
                        yield hit(instr, "chmod 777")
                        break


_SECRET_PARTS = {"PASSWORD", "PASSWD", "SECRET", "TOKEN", "CREDENTIALS", "APIKEY", "PASS"}
_SECRET_PAIRS = {
    ("API", "KEY"),
    ("PRIVATE", "KEY"),
    ("ACCESS", "KEY"),
    ("SECRET", "KEY"),
    ("CLIENT", "SECRET"),
    ("AUTH", "TOKEN"),
}
_SAFE_SUFFIX = ("FILE", "PATH", "DIR", "URL", "LENGTH", "ENABLED", "FORMAT")
_SECRET_VALUE = re.compile(
    r"(AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{30,}|xox[abpr]-[A-Za-z0-9-]{10,}|"
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----|glpat-[A-Za-z0-9_-]{20,}|sk_live_[A-Za-z0-9]{20,})"
)


def _secret_name(name: str) -> bool:
    parts = [p for p in re.split(r"[^A-Za-z0-9]+", name.upper()) if p]
    if not parts or parts[-1] in _SAFE_SUFFIX:
        return False
    if any(p in _SECRET_PARTS for p in parts):
        return True
    return any(pair in _SECRET_PAIRS for pair in zip(parts, parts[1:], strict=False))


def _secrets(lint: LintInput) -> Iterator[Hit]:
    df = lint.dockerfile
    args = list(df.meta_args) + [i for s in df.stages for i in s.instructions if isinstance(i, Arg)]
    for arg in args:
        for a in arg.args:
            if _secret_name(a.key) or (a.value and _SECRET_VALUE.search(a.value)):
                yield hit(arg, f"ARG {a.key}: build arguments are stored in the image history")
    for stage in df.stages:
        for instr in stage.instructions:
            if not isinstance(instr, Env):
                continue
            for kv in instr.pairs:
                value = kv.value.strip("\"'")
                if _SECRET_VALUE.search(kv.value) or (
                    _secret_name(kv.key) and value and not value.startswith("$")
                ):
                    yield hit(instr, f"ENV {kv.key}: environment values ship in the image config")


def _add_url(lint: LintInput) -> Iterator[Hit]:
    for stage in lint.dockerfile.stages:
        for instr in stage.instructions:
            if isinstance(instr, Add) and not instr.checksum:
                urls = [
                    s
                    for s in instr.sources
                    if s.startswith(("http://", "https://"))
                    and ".git#" not in s
                    and not s.endswith(".git")
                ]
                if urls:
                    yield hit(instr, f"ADD {urls[0]} without --checksum")


_SHELLS = {"sh", "bash", "zsh", "dash", "ash", "ksh"}


def _curl_pipe(lint: LintInput) -> Iterator[Hit]:
    for stage in lint.dockerfile.stages:
        for instr in stage.instructions:
            if not isinstance(instr, Run):
                continue
            cmds = run_commands(instr)
            for a, b in zip(cmds, cmds[1:], strict=False):
                if a.program in ("curl", "wget") and a.then == "|" and b.program in _SHELLS:
                    yield hit(instr, f"{a.program} ... | {b.program}")
                    break


def _ssh(lint: LintInput) -> Iterator[Hit]:
    for stage in lint.dockerfile.stages:
        for instr in stage.instructions:
            if isinstance(instr, Expose) and any(p.split("/")[0] == "22" for p in instr.ports):
                yield hit(instr, "EXPOSE 22")


def _named_user(lint: LintInput) -> Iterator[Hit]:
    for stage in lint.dockerfile.stages:
        for instr in stage.instructions:
            if not isinstance(instr, User):
                continue
            name = instr.user.split(":", 1)[0].strip()
            if name.isdigit() or "$" in name:
                continue  # numeric, or decided by a build argument
            yield hit(instr, f"USER {name} is a name, not a UID")


PRIVILEGE_RULES = (
    Rule(
        id="IF501",
        slug="final-user-root",
        section="3.1",
        severity=Severity.WARNING,
        title="The final stage runs as root",
        message="The container runs as root.",
        hint="Create a user (or use a numeric UID such as 65532) and end the final stage "
        "with USER <uid>.",
        why="The guide cites 73% of container escapes as coming from excess privilege. A "
        "process that is root inside the container is one kernel bug away from root on "
        "the host; a dedicated non-root user removes that whole class. A numeric UID "
        "lets Kubernetes verify runAsNonRoot.",
        bad="FROM alpine:3.20\nCOPY app /app\n",
        good="FROM alpine:3.20\nCOPY app /app\nUSER 10001\n",
        check=_root_user,
    ),
    Rule(
        id="IF502",
        slug="sudo",
        section="3.1",
        severity=Severity.WARNING,
        title="sudo in a RUN",
        message="sudo in a Dockerfile.",
        hint="RUN already runs as the current USER; switch with USER root ... USER app "
        "around the steps that need it instead of installing sudo.",
        why="sudo in an image means a setuid binary and a policy that lets the user become "
        "root again, undoing the least-privilege USER.",
        bad="FROM debian:12-slim\nUSER 1000\nRUN sudo mkdir /data\n",
        good="FROM debian:12-slim\nRUN mkdir /data && chown 1000 /data\nUSER 1000\n",
        check=_sudo,
    ),
    Rule(
        id="IF503",
        slug="chmod-777",
        section="3.1",
        severity=Severity.WARNING,
        title="World-writable permissions (chmod 777)",
        message="Files are made writable by every user.",
        hint="Give ownership to the runtime user (chown, COPY --chown) and keep modes tight "
        "(755 for directories, 644 for files).",
        why="A world-writable file or directory lets any process in the container change "
        "code or configuration another process runs.",
        bad="FROM alpine:3.20\nRUN mkdir /data && chmod 777 /data\n",
        good="FROM alpine:3.20\nRUN mkdir /data && chown 10001 /data && chmod 750 /data\n",
        check=_chmod,
    ),
    Rule(
        id="IF504",
        slug="secret-in-env-or-arg",
        section="3.1",
        severity=Severity.ERROR,
        title="A secret in ENV or ARG",
        message="A secret is passed through ENV or ARG.",
        hint="Use RUN --mount=type=secret for build secrets and inject runtime secrets "
        "from the orchestrator; never bake them into the image.",
        why="ENV values are stored in the image configuration and ARG values in its "
        "history: anyone who can pull the image can read them.",
        bad="FROM alpine:3.20\nENV DB_PASSWORD=hunter2\n",
        good="FROM alpine:3.20\nENV DB_PASSWORD_FILE=/run/secrets/db_password\n",
        check=_secrets,
    ),
    Rule(
        id="IF505",
        slug="add-url-no-checksum",
        section="3.1",
        severity=Severity.WARNING,
        title="ADD of a URL without --checksum",
        message="A remote file is added without verifying it.",
        hint="Add --checksum=sha256:<hex>, or download and verify it in a RUN.",
        why="Whoever controls the URL (or the network path) controls what ends up in the "
        "image; a checksum makes the build fail instead.",
        bad="FROM alpine:3.20\nADD https://example.org/tool.tar.gz /tmp/\n",
        good="FROM alpine:3.20\nADD --checksum=sha256:"
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef "
        "https://example.org/tool.tar.gz /tmp/\n",
        check=_add_url,
    ),
    Rule(
        id="IF506",
        slug="curl-pipe-shell",
        section="3.1",
        severity=Severity.WARNING,
        title="A downloaded script is piped into a shell",
        message="curl or wget output runs unverified.",
        hint="Download to a file, verify its checksum or signature, then run it.",
        why="Piping a download into sh runs whatever the server sends, with the build's "
        "privileges, and leaves no record of what ran.",
        bad="FROM debian:12-slim\nRUN curl -fsSL https://example.org/install.sh | sh\n",
        good="FROM debian:12-slim\nRUN curl -fsSLo /tmp/install.sh https://example.org/install.sh "
        "&& echo '0123abcd  /tmp/install.sh' | sha256sum -c - && sh /tmp/install.sh\n",
        check=_curl_pipe,
    ),
    Rule(
        id="IF507",
        slug="expose-ssh",
        section="3.1",
        severity=Severity.WARNING,
        title="EXPOSE 22",
        message="The image exposes SSH.",
        hint="Do not run sshd in a container; use docker exec / kubectl exec to get a shell.",
        why="An SSH server is a second way in, with its own keys and passwords to manage, "
        "and a sign that the container is treated as a machine.",
        bad="FROM alpine:3.20\nEXPOSE 22\n",
        good="FROM alpine:3.20\nEXPOSE 8080\n",
        check=_ssh,
    ),
    Rule(
        id="IF508",
        slug="user-not-numeric",
        section="3.1",
        severity=Severity.INFO,
        title="USER names a user instead of a numeric UID",
        message="A user name is resolved inside the image; the platform sees only UIDs.",
        hint="Use the numeric UID (and GID): USER 10001:10001.",
        why="Kubernetes' runAsNonRoot can only verify a numeric user, and a name means "
        "nothing to the host or to volume permissions (hadolint DL3066). The guide's "
        "examples run as a numeric UID such as 65532. A USER from a build argument is "
        "not reported (hadolint reports it).",
        bad="FROM alpine:3.20\nRUN adduser -D -u 10001 app\nUSER app\n",
        good="FROM alpine:3.20\nRUN adduser -D -u 10001 app\nUSER 10001\n",
        check=_named_user,
    ),
)
