"""Which OCI runtime works here: start a trial busybox container with each."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from imageforge.errors import ImageforgeError, Unavailable
from imageforge.progress import NULL_PROGRESS, ProgressSink
from imageforge.runtime._busybox import find_static_busybox
from imageforge.runtime._model import Process, StdIO
from imageforge.runtime._oci import OciRuntime, find_runtime
from imageforge.runtime._probes import scratch_dir
from imageforge.runtime._report import CheckItem
from imageforge.runtime._seccomp import DEFAULT_PROFILE
from imageforge.runtime._security import Security
from imageforge.store import user_cache_dir

__all__ = ["check_runtime", "default_probe_cache", "forget_runtime_probe", "select_runtime"]


def _trial_run(runtime: OciRuntime, busybox: Path, scratch: Path) -> tuple[bool, str]:
    rootfs = scratch / "rootfs"
    (rootfs / "bin").mkdir(parents=True)
    shutil.copy2(busybox, rootfs / "bin" / "busybox")
    out = scratch / "stdout"
    # With the seccomp filter builds use, if its profile is there (the "seccomp" item
    # reports on the profile; this one on the runtime).
    seccomp = "default" if DEFAULT_PROFILE.is_file() else "unconfined"
    with out.open("wb") as sink:
        status = runtime.run(
            rootfs,
            Process(args=["/bin/busybox", "echo", "imageforge-probe"]),
            io=StdIO(stdout=sink, stderr=sink),
            security=Security(seccomp),
        )
    text = out.read_text(errors="replace").strip()
    if status.runtime_error:
        return False, status.runtime_error
    if status.code != 0:
        return False, f"trial container exited {status.code}: {text[-300:]}"
    if text != "imageforge-probe":
        return False, f"trial container printed {text[-300:]!r} instead of the probe word"
    return True, "started a trial busybox container"


def check_runtime(name: str, *, scratch_base: Path | None = None) -> CheckItem:
    """Start a trivial container with runtime ``name`` and report whether it worked."""
    item = f"runtime.{name}"
    try:
        runtime = find_runtime(name)
    except ImageforgeError as exc:
        return CheckItem(item, False, "not installed", exc.hint, {"installed": False})
    data: dict[str, Any] = {"installed": True, "path": str(runtime.binary)}
    try:
        data["version"] = runtime.version()
    except (OSError, subprocess.SubprocessError) as exc:
        data["version"] = None
        data["version_error"] = str(exc)
    busybox = find_static_busybox()
    if busybox is None:
        return CheckItem(
            item,
            False,
            "installed, but not probed: no static busybox to build a trial rootfs from",
            "apt-get install busybox-static",
            data,
        )
    with scratch_dir(scratch_base, f"probe-{name}-") as scratch:
        try:
            ok, why = _trial_run(runtime, busybox, scratch)
        except OSError as exc:
            ok, why = False, str(exc)
    data["works"] = ok
    if ok:
        return CheckItem(item, True, why, None, data)
    data["reason"] = why
    return CheckItem(item, False, f"cannot start containers: {why}", None, data)


def _identity(runtime: OciRuntime) -> dict[str, Any]:
    """What a probe result depends on: the binary (path, size, mtime), the kernel and
    whether we are root (a user namespace changes what works)."""
    st = runtime.binary.stat()
    return {
        "path": str(runtime.binary),
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "kernel": os.uname().release,
        "euid": os.geteuid(),
    }


def _cached_probe(cache: Path | None, name: str) -> CheckItem:
    """``check_runtime(name)``, its verdict remembered in ``cache`` (a JSON file) while
    the binary, the kernel and the euid are the same, so a build does not start two
    trial containers every time."""
    if cache is None:
        return check_runtime(name)
    try:
        identity = _identity(find_runtime(name))
    except (ImageforgeError, OSError):
        return check_runtime(name)
    try:
        known = json.loads(cache.read_text())
        if not isinstance(known, dict):
            known = {}
    except (OSError, ValueError):
        known = {}
    entry = known.get(name)
    if isinstance(entry, dict) and entry.get("identity") == identity:
        data = entry.get("data") or {}
        return CheckItem(
            f"runtime.{name}", bool(entry.get("ok")), str(entry.get("summary")), None, data
        )
    result = check_runtime(name)
    known[name] = {
        "identity": identity,
        "ok": result.ok,
        "summary": result.summary,
        "data": result.data,
    }
    tmp = cache.with_name(f".{cache.name}.{os.getpid()}.tmp")
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(known, sort_keys=True))
        os.replace(tmp, cache)
    except OSError:  # a read-only store still builds; it only probes again next time
        tmp.unlink(missing_ok=True)
    return result


def default_probe_cache() -> Path:
    """Where verdicts are remembered: they describe the host, not a store, so one file
    per user (``$XDG_CACHE_HOME/imageforge``, else ``~/.cache/imageforge``)."""
    return user_cache_dir() / "runtime-probe.json"


def forget_runtime_probe(cache: Path) -> None:
    """Drop the remembered probe results (after a runtime failed to start a container)."""
    cache.unlink(missing_ok=True)


def select_runtime(
    preferred: str | None = None,
    *,
    progress: ProgressSink = NULL_PROGRESS,
    cache: Path | None = None,
) -> OciRuntime:
    """The runtime to run containers with: ``preferred`` if given and working, else the
    first of crun, runc that starts a trial container. Says which through ``progress``.
    With ``cache``, each runtime's verdict is kept there (see :func:`_cached_probe`)."""
    names = [preferred] if preferred else ["crun", "runc"]
    reasons: list[str] = []
    for name in names:
        result = _cached_probe(cache, name)
        if result.ok:
            progress.note(f"runtime: {name} ({result.data.get('version') or 'unknown version'})")
            return find_runtime(name)
        reasons.append(f"{name}: {result.summary}")
        progress.note(f"runtime: {name} unusable: {result.summary}")
    raise Unavailable(
        "no working OCI runtime: " + "; ".join(reasons),
        hint="install runc (apt-get install runc) and run 'imageforge system check'",
    )
