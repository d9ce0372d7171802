"""The store's build history: one JSON line per build (``<root>/builds/history.jsonl``),
appended under a lock at the end of each build -- when it started, how long it took,
its outcome, its steps and how many came from the cache, the image it made, and for a
failure its cause as :func:`~imageforge.pipeline._doctor.diagnose` names it -- and the
last failed build's facts whole (``<root>/builds/last-failed.json``, written atomically):
the error, the step's last lines, the Dockerfile and the context's size, which
``doctor --last`` reads.

A line that cannot be read (a killed writer's, another version's) is skipped by the
reader; recording never fails a build (a history that cannot be written is a warning)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from imageforge.errors import ImageforgeError, StepFailed
from imageforge.store import FileLock, atomic_write

if TYPE_CHECKING:
    from imageforge.pipeline._doctor import FailedBuild

__all__ = [
    "BuildRecord",
    "BuildRecorder",
    "last_failed",
    "read_history",
    "recorded_build",
]

_DIR = "builds"
_HISTORY = "history.jsonl"
_LAST_FAILED = "last-failed.json"
_CONTEXT_WALK_LIMIT = 200_000  # files: the size of a huge context is a bound, not exact
_DOCKERFILE_LIMIT = 256 * 1024


@dataclass(frozen=True)
class BuildRecord:
    """One build as the history keeps it."""

    started: float  # epoch seconds
    seconds: float
    outcome: str  # succeeded or failed
    steps: int = 0
    cached: int = 0
    digest: str = ""
    tags: tuple[str, ...] = ()
    cause: str = ""  # a failure's (doctor's CAUSES)

    def to_json(self) -> dict[str, Any]:
        return {
            "started": round(self.started, 3),
            "seconds": round(self.seconds, 3),
            "outcome": self.outcome,
            "steps": self.steps,
            "cached": self.cached,
            "digest": self.digest,
            "tags": list(self.tags),
            "cause": self.cause,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> BuildRecord:
        return cls(
            float(doc["started"]),
            float(doc["seconds"]),
            str(doc["outcome"]),
            int(doc.get("steps") or 0),
            int(doc.get("cached") or 0),
            str(doc.get("digest") or ""),
            tuple(str(t) for t in doc.get("tags") or []),
            str(doc.get("cause") or ""),
        )


def _dir(root: Path) -> Path:
    return Path(root) / _DIR


def append_record(root: Path, record: BuildRecord) -> None:
    """Append one line, whole, under the history's lock (O_APPEND: one write)."""
    path = _dir(root) / _HISTORY
    line = (json.dumps(record.to_json(), separators=(",", ":")) + "\n").encode()
    with FileLock(_dir(root) / "lock").exclusive(what="the build history"):
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)


def read_history(root: Path) -> list[BuildRecord]:
    """Every readable record, oldest first."""
    try:
        raw = (_dir(root) / _HISTORY).read_bytes()
    except FileNotFoundError:
        return []
    out = []
    for line in raw.splitlines():
        try:
            out.append(BuildRecord.from_json(json.loads(line)))
        except (ValueError, KeyError, TypeError, AttributeError):
            continue
    return out


def last_failed(root: Path) -> FailedBuild | None:
    """The facts of the last failed build, or None (no build failed here yet)."""
    try:
        doc = json.loads((_dir(root) / _LAST_FAILED).read_bytes())
    except FileNotFoundError:
        return None
    except ValueError:
        return None
    from imageforge.pipeline._doctor import FailedBuild

    return FailedBuild.from_json(doc) if isinstance(doc, dict) else None


def _context_bytes(context: Path) -> int | None:
    total = files = 0
    try:
        for base, _dirs, names in os.walk(context):
            for name in names:
                files += 1
                if files > _CONTEXT_WALK_LIMIT:
                    return total
                try:
                    total += os.lstat(os.path.join(base, name)).st_size
                except OSError:
                    continue
    except OSError:
        return None
    return total


def _dockerfile_text(path: Path | None, text: str | None) -> str:
    if text is not None:
        return text[:_DOCKERFILE_LIMIT]
    if path is None:
        return ""
    try:
        return path.read_text(errors="replace")[:_DOCKERFILE_LIMIT]
    except OSError:
        return ""


class BuildRecorder:
    """Given to the ``with`` block of :func:`recorded_build`: tell it what was built."""

    def __init__(self) -> None:
        self.steps = 0
        self.cached = 0
        self.digest = ""
        self.tags: tuple[str, ...] = ()

    def built(self, digest: str, steps: Sequence[Any], tags: Sequence[str] = ()) -> None:
        """``steps``: the builder's step reports (each with ``cached``)."""
        self.digest = digest
        self.steps = len(steps)
        self.cached = sum(1 for s in steps if getattr(s, "cached", False))
        self.tags = tuple(tags)


@contextmanager
def recorded_build(
    root: Path,
    context: Path,
    dockerfile: Path | None,
    dockerfile_text: str | None = None,
    warn: Any = None,
) -> Iterator[BuildRecorder]:
    """Record the build the ``with`` block runs: its outcome when the block ends, and
    for an :class:`ImageforgeError` (re-raised) the facts ``doctor`` reads."""
    started = time.time()
    clock = time.monotonic()
    recorder = BuildRecorder()
    try:
        yield recorder
    except ImageforgeError as exc:
        from imageforge.pipeline._doctor import FailedBuild, diagnose  # a failed build only

        facts = FailedBuild(
            message=exc.message,
            kind=exc.kind.value,
            hint=exc.hint or "",
            exit_code=exc.exit_code if isinstance(exc, StepFailed) else None,
            output=tuple(exc.output) if isinstance(exc, StepFailed) else (),
            dockerfile=str(exc.location.file if exc.location else dockerfile or ""),
            dockerfile_text=_dockerfile_text(
                dockerfile or (context / "Dockerfile"), dockerfile_text
            ),
            line=exc.location.line if exc.location else 0,
            context=str(context),
            context_bytes=_context_bytes(context),
        )
        cause = diagnose(facts).cause
        _keep(
            root, warn, BuildRecord(started, time.monotonic() - clock, "failed", cause=cause), facts
        )
        raise
    _keep(
        root,
        warn,
        BuildRecord(
            started,
            time.monotonic() - clock,
            "succeeded",
            recorder.steps,
            recorder.cached,
            recorder.digest,
            recorder.tags,
        ),
        None,
    )


def _keep(root: Path, warn: Any, record: BuildRecord, facts: FailedBuild | None) -> None:
    try:
        if facts is not None:
            _dir(root).mkdir(parents=True, exist_ok=True)
            atomic_write(_dir(root) / _LAST_FAILED, json.dumps(facts.to_json()).encode())
        append_record(root, record)
    except (OSError, ImageforgeError) as exc:
        if warn is not None:
            warn(f"the build history could not be written: {exc}")
