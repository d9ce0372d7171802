"""Runtime awareness: language runtimes that size themselves from the host rather than
from the container's memory limit unless told, found in an image's config and its
entrypoint binary, with the flag or environment variable to set.

- a JVM without ``-Xmx``/``-XX:MaxRAMPercentage``/``-XX:MaxRAM``: its default heap is a
  quarter of the memory it sees; set ``JAVA_TOOL_OPTIONS=-XX:MaxRAMPercentage=75.0``
  (container support, on since JDK 10 and 8u191, makes that the limit's share);
- a Go binary without ``GOMEMLIMIT``: its collector ignores the limit; set it to 90% of
  the memory limit;
- Node without ``--max-old-space-size``: V8's old space is sized from the host; set
  ``NODE_OPTIONS=--max-old-space-size=<75% of the limit in MiB>``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from imageforge.errors import ImageforgeError
from imageforge.layers import resolve_in_root
from imageforge.tune._quantity import MIB, mebibytes

__all__ = ["RuntimeHint", "detect_runtimes", "runtime_hints"]

_GO_MAGIC: Final = b"\xff Go buildinf:"
_JAVA_HEAP: Final = ("-Xmx", "MaxRAMPercentage", "MaxRAM=", "MaxHeapSize")
_JAVA_ENV: Final = ("JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS", "JAVA_OPTS")
_READ_LIMIT: Final = 256 * MIB


@dataclass(frozen=True)
class RuntimeHint:
    """A runtime found in the image, what is wrong and what to set."""

    runtime: str
    problem: str
    set: str

    def to_json(self) -> dict[str, str]:
        return {"runtime": self.runtime, "problem": self.problem, "set": self.set}


def _env(items: Sequence[str]) -> dict[str, str]:
    return dict(item.partition("=")[::2] for item in items)


def _is_go(rootfs: Path | None, program: str, env: Mapping[str, str]) -> bool:
    if rootfs is None or not program:
        return False
    try:
        if "/" not in program:  # looked up on PATH, as the runtime does
            for d in env.get("PATH", "/usr/local/bin:/usr/bin:/bin").split(":"):
                found = resolve_in_root(rootfs, f"{d}/{program}")
                if found.is_file():
                    break
            else:
                return False
        else:
            found = resolve_in_root(rootfs, program)
        if not found.is_file() or found.stat().st_size > _READ_LIMIT:
            return False
        with found.open("rb") as f:
            return _GO_MAGIC in f.read()
    except (OSError, ImageforgeError):
        return False


def _argv(config: Mapping[str, Any]) -> list[str]:
    return [str(a) for a in (config.get("Entrypoint") or []) + (config.get("Cmd") or [])]


def detect_runtimes(config: Mapping[str, Any], rootfs: Path | None) -> frozenset[str]:
    """What only the files can tell (``go``: the entrypoint is a Go binary), read from
    the image unpacked at ``rootfs`` while its container runs."""
    argv = _argv(config)
    env = _env(config.get("Env") or [])
    return frozenset({"go"} if argv and _is_go(rootfs, argv[0], env) else set())


def runtime_hints(
    config: Mapping[str, Any], found: frozenset[str], memory_limit: float | None
) -> list[RuntimeHint]:
    """The hints for an image whose config's ``config`` object is ``config`` (``found``:
    what :func:`detect_runtimes` saw in its files), for ``memory_limit`` bytes."""
    env = _env(config.get("Env") or [])
    argv = _argv(config)
    words = " ".join(argv)
    program = os.path.basename(argv[0]) if argv else ""
    limit_mib = mebibytes(memory_limit) if memory_limit else None
    out: list[RuntimeHint] = []
    java_opts = " ".join(
        env.get(k, "") for k in ("JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS", "JAVA_OPTS")
    )
    if program == "java" or "JAVA_HOME" in env or "JAVA_VERSION" in env:
        if not any(flag in words or flag in java_opts for flag in _JAVA_HEAP):
            out.append(
                RuntimeHint(
                    "jvm",
                    "no heap bound (-Xmx, -XX:MaxRAMPercentage): the heap defaults to a "
                    "quarter of the memory the JVM sees, and a JDK without container "
                    "support (before 10 / 8u191) sees the host's",
                    "JAVA_TOOL_OPTIONS=-XX:MaxRAMPercentage=75.0",
                )
            )
    if (program == "node" or "NODE_VERSION" in env) and "--max-old-space-size" not in (
        words + " " + env.get("NODE_OPTIONS", "")
    ):
        size = f"{limit_mib * 3 // 4}" if limit_mib else "<75% of the limit in MiB>"
        out.append(
            RuntimeHint(
                "node",
                "no --max-old-space-size: V8 sizes its old space from the host, not the limit",
                f"NODE_OPTIONS=--max-old-space-size={size}",
            )
        )
    if "go" in found and "GOMEMLIMIT" not in env:
        size = f"{limit_mib * 9 // 10}MiB" if limit_mib else "<90% of the limit>"
        out.append(
            RuntimeHint(
                "go",
                "a Go binary without GOMEMLIMIT: its garbage collector does not know the "
                "memory limit and lets the heap grow to twice the live data (GOGC=100)",
                f"GOMEMLIMIT={size}",
            )
        )
    return out
