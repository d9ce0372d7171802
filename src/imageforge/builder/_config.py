"""What the metadata instructions do to an image config, as buildah writes it with
``--format docker`` (Docker's classic builder and BuildKit agree on every field here).

The config is the ``config`` object of the image config JSON (``Env``, ``Cmd``...);
functions take it and return nothing, changing it in place.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence
from typing import Any

from imageforge.dockerfile import (
    Cmd,
    Entrypoint,
    Expose,
    Healthcheck,
    Instruction,
    Label,
    Shell,
    StopSignal,
    User,
    Volume,
    parse_go_duration,
)
from imageforge.errors import InvalidArgument

__all__ = [
    "DEFAULT_SHELL",
    "apply_metadata",
    "command_args",
    "env_list_set",
    "env_map",
    "expose_ports",
    "healthcheck_config",
    "workdir_path",
]

DEFAULT_SHELL: tuple[str, ...] = ("/bin/sh", "-c")
_PORT = re.compile(r"^(\d+)(?:-(\d+))?(?:/([A-Za-z]+))?$")


def env_map(config: dict[str, Any]) -> dict[str, str]:
    """``Env`` as a dict (later entries win, as the runtime reads them)."""
    out: dict[str, str] = {}
    for item in config.get("Env") or []:
        key, _, value = str(item).partition("=")
        out[key] = value
    return out


def env_list_set(config: dict[str, Any], key: str, value: str) -> None:
    """Set ``key`` in ``Env``: an earlier value is dropped and the new one appended, the
    order buildah writes (Docker's classic builder would replace it in place)."""
    env = [str(e) for e in config.get("Env") or [] if str(e).partition("=")[0] != key]
    env.append(f"{key}={value}")
    config["Env"] = env


def command_args(args: Sequence[str], exec_form: bool, shell: Sequence[str]) -> list[str]:
    """RUN/CMD/ENTRYPOINT arguments: the exec form as written, the shell form as
    ``SHELL + [command line]``."""
    if exec_form:
        return list(args)
    return [*shell, " ".join(args)]


def expose_ports(ports: Sequence[str], where: str) -> list[str]:
    """``80``, ``53/udp``, ``8000-8002`` as ``port/proto`` keys; a range stays one key,
    as buildah writes it."""
    out: list[str] = []
    for port in ports:
        m = _PORT.match(port)
        if m is None:
            raise InvalidArgument(f"{where}: invalid port {port!r} in EXPOSE")
        first = int(m.group(1))
        last = int(m.group(2) or first)
        proto = (m.group(3) or "tcp").lower()
        if proto not in ("tcp", "udp", "sctp") or last < first or last > 65535:
            raise InvalidArgument(f"{where}: invalid port {port!r} in EXPOSE")
        span = f"{first}-{last}" if m.group(2) else str(first)
        out.append(f"{span}/{proto}")
    return out


def _nanoseconds(text: str | None, what: str, where: str) -> int:
    if text is None:
        return 0
    try:
        return round(parse_go_duration(text) * 1e9)
    except ValueError as exc:
        raise InvalidArgument(f"{where}: HEALTHCHECK {what}: {exc}") from None


def healthcheck_config(instr: Healthcheck, where: str) -> dict[str, Any]:
    """Docker's ``Healthcheck`` object: durations in nanoseconds, zero values left out."""
    out: dict[str, Any] = {"Test": list(instr.test)}
    for key, text in (
        ("Interval", instr.interval),
        ("Timeout", instr.timeout),
        ("StartPeriod", instr.start_period),
        ("StartInterval", instr.start_interval),
    ):
        value = _nanoseconds(text, key, where)
        if value:
            out[key] = value
    if instr.retries:
        out["Retries"] = instr.retries
    return out


def workdir_path(current: str | None, path: str) -> str:
    """WORKDIR ``path`` relative to the current one, cleaned."""
    joined = posixpath.join(current or "/", path)
    return posixpath.normpath(joined).replace("//", "/")


def apply_metadata(
    config: dict[str, Any],
    instr: Instruction,
    *,
    shell: Sequence[str],
    cmd_set: bool,
    where: str,
) -> None:
    """Apply a metadata-only instruction (ENV, LABEL, ARG, WORKDIR and the filesystem
    side are the executor's) to ``config``. ``cmd_set`` says whether this stage set CMD
    already: an ENTRYPOINT clears an inherited CMD, as Docker does."""
    if isinstance(instr, Label):
        labels = dict(config.get("Labels") or {})
        for pair in instr.pairs:
            labels[pair.key] = pair.value
        config["Labels"] = labels
    elif isinstance(instr, User):
        config["User"] = instr.user
    elif isinstance(instr, Expose):
        exposed = dict(config.get("ExposedPorts") or {})
        for key in expose_ports(instr.ports, where):
            exposed[key] = {}
        config["ExposedPorts"] = exposed
    elif isinstance(instr, Volume):
        volumes = dict(config.get("Volumes") or {})
        for path in instr.paths:
            if not path.strip():
                raise InvalidArgument(f"{where}: VOLUME specified can not be an empty string")
            volumes[path] = {}
        config["Volumes"] = volumes
    elif isinstance(instr, StopSignal):
        config["StopSignal"] = instr.signal
    elif isinstance(instr, Cmd):
        config["Cmd"] = command_args(instr.args, instr.exec_form, shell)
    elif isinstance(instr, Entrypoint):
        config["Entrypoint"] = command_args(instr.args, instr.exec_form, shell)
        if not cmd_set:
            config.pop("Cmd", None)
    elif isinstance(instr, Healthcheck):
        config["Healthcheck"] = healthcheck_config(instr, where)
    elif isinstance(instr, Shell):
        config["Shell"] = list(instr.shell)
    else:  # pragma: no cover - the executor routes only the kinds above here
        raise InvalidArgument(f"{where}: {instr.keyword} is not a metadata instruction")
