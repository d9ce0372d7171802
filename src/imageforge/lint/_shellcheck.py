"""ShellCheck over RUN scripts, the way hadolint runs it: each shell-form RUN becomes a
script with a ``#!`` line from the stage's SHELL or a ``# hadolint shell=`` comment
(default /bin/sh) and an ``export``
of every ARG and ENV name set before it; PowerShell and cmd stages are skipped; SC1090,
SC1091 (sourced files that a Dockerfile cannot show) and SC2187 (ash) are excluded.
Findings keep their SC ids and sit on the RUN's first line.

Batched: all RUNs of a Dockerfile go to one ``shellcheck`` process (one file each); a
run over many Dockerfiles (:class:`ShellcheckBatch`) gives their scripts to a few
processes, started while the files are still being parsed (a part at a time) and before
the rules run, so that ShellCheck, the parser and the rules work at once.
Remembered: ShellCheck's findings on a script depend only on the script, the exclusions
and the binary, so they are kept per script in ``shellcheck.sqlite`` in the user's cache
directory, keyed by the hash of all three (the binary by path, size and mtime); a script
seen before is not checked again. The cache is a convenience: an unreadable or corrupt
one is ignored (and rebuilt), and ``IMAGEFORGE_NO_LINT_CACHE=1`` or ``lint --no-cache``
bypasses it.
ShellCheck itself is the Debian ``shellcheck`` binary; when it is not installed no SC
finding is reported.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from imageforge.dockerfile import Arg, Dockerfile, Env, Run
from imageforge.lint._facts import bases_of
from imageforge.lint._model import LintInput
from imageforge.lint._shell import run_text
from imageforge.store import user_cache_dir

__all__ = ["ShellComment", "ShellcheckBatch", "shellcheck_many", "shellcheck_runs"]

_EXCLUDED = "SC1090,SC1091,SC2187"
# No ``.shellcheckrc`` (the user's, or one above the temporary scripts): hadolint reads
# none, and findings must not depend on files the cache key does not cover.
_NORC = "--norc"
_NOT_POSIX = ("pwsh", "powershell", "powershell.exe", "cmd", "cmd.exe")
_CACHE_NAME = "shellcheck.sqlite"
_CACHE_DAYS = 90  # rows not written again for this long are dropped


@dataclass(frozen=True)
class ShellComment:
    """One ShellCheck finding on a RUN: its SC id, level (error, warning, info, style),
    message, and the RUN's first line."""

    code: str
    level: str
    message: str
    line: int


def _script(run: Run) -> str:
    """The shell script of ``run``: a RUN that is only ``<<EOF`` runs its body; other
    heredocs are written back with their terminators so the script parses."""
    line = " ".join(run.args)
    if not run.heredocs:
        return run_text(run)
    if line.strip().lstrip("<-").strip("'\"") == run.heredocs[0].name and len(run.heredocs) == 1:
        return run.heredocs[0].content
    bodies = "".join(f"{h.content.rstrip(chr(10))}\n{h.name}\n" for h in run.heredocs)
    return f"{line}\n{bodies}"


def _shell_name(shell: str) -> str:
    return shell.rsplit("/", 1)[-1].rsplit("\\", 1)[-1].lower()


def _scripts(lint: LintInput) -> list[tuple[Run, str]]:
    out: list[tuple[Run, str]] = []
    for stage in lint.dockerfile.stages:
        names: set[str] = set()
        for instr in stage.instructions:
            if isinstance(instr, Env):
                names |= {p.key for p in instr.pairs}
            elif isinstance(instr, Arg):
                names |= {a.key for a in instr.args}
            elif isinstance(instr, Run) and not instr.exec_form:
                shell = lint.shell_of(stage, instr)[0]
                if _shell_name(shell) in _NOT_POSIX:
                    continue
                if not shell.startswith("/"):  # '# hadolint shell=bash'
                    shell = f"/usr/bin/env {shell}"
                exports = "".join(f"export {n}=1\n" for n in sorted(names) if n.isidentifier())
                out.append((instr, f"#!{shell}\n{exports}{_script(instr)}\n"))
    return out


def shellcheck_runs(dockerfile: Dockerfile | LintInput) -> list[ShellComment]:
    """ShellCheck's findings on every shell-form RUN of ``dockerfile``, in one process
    (a :class:`LintInput` brings its ``# hadolint shell=`` comments)."""
    if isinstance(dockerfile, Dockerfile):
        dockerfile = LintInput(dockerfile, bases_of(dockerfile))
    return shellcheck_many([dockerfile], jobs=1)[0]


def shellcheck_many(
    inputs: Sequence[LintInput], jobs: int | None = None, *, cache: bool = True
) -> list[list[ShellComment]]:
    """:func:`shellcheck_runs` for many Dockerfiles at once (see :class:`ShellcheckBatch`);
    one list of findings per input."""
    return ShellcheckBatch(inputs, jobs, cache=cache).results()


_Found = tuple[tuple[str, str, str], ...]  # (code, level, message) per finding of a script


class _Cache:
    """Findings per script key, in one SQLite file; every failure to read or write it
    only makes the batch check more scripts."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(path, timeout=5, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS findings"
                " (key TEXT PRIMARY KEY, found TEXT NOT NULL, written INTEGER NOT NULL)"
            )
            self._db = db
        except (OSError, sqlite3.Error):
            self._db = None

    def get(self, keys: Sequence[str]) -> dict[str, _Found]:
        out: dict[str, _Found] = {}
        if self._db is None or not keys:
            return out
        try:
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                marks = ",".join("?" * len(chunk))
                sql = f"SELECT key, found FROM findings WHERE key IN ({marks})"  # noqa: S608
                for key, found in self._db.execute(sql, chunk):
                    out[key] = tuple((str(c), str(lv), str(m)) for c, lv, m in json.loads(found))
        except (sqlite3.Error, ValueError, TypeError):
            return {}
        return out

    def put(self, found: dict[str, _Found]) -> None:
        if self._db is None or not found:
            return
        now = int(time.time())
        try:
            with self._db:  # one transaction: one fsync however many scripts
                self._db.execute("BEGIN")
                self._db.executemany(
                    "INSERT OR REPLACE INTO findings VALUES (?, ?, ?)",
                    [(k, json.dumps(v), now) for k, v in found.items()],
                )
                self._db.execute(
                    "DELETE FROM findings WHERE written < ?", (now - _CACHE_DAYS * 86400,)
                )
        except sqlite3.Error:
            pass

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


def _binary_id(binary: str) -> str:
    real = os.path.realpath(binary)
    st = os.stat(real)
    return f"{real}:{st.st_size}:{st.st_mtime_ns}"


def _cache_enabled(cache: bool) -> bool:
    return cache and os.environ.get("IMAGEFORGE_NO_LINT_CACHE", "") in ("", "0")


class ShellcheckBatch:
    """ShellCheck started over every shell-form RUN of ``inputs`` and of each input
    :meth:`add` brings later: scripts found in the cache are answered from it, the others
    written to a private directory and checked by concurrent ``shellcheck`` processes.
    :meth:`start` starts the scripts added since the last start, in ``jobs`` balanced
    shares (default: one per CPU, at most 8); the constructor starts those of ``inputs``.
    A caller that parses many files can add and start them a part at a time, so that
    ShellCheck works while the rest are parsed (:func:`~imageforge.lint.lint_paths`).
    The processes run while the caller does other work; :meth:`results` starts what is
    left, waits for them (once) and gives one list of findings per input, in the order
    added; :meth:`close` stops them without results (on an error)."""

    def __init__(
        self, inputs: Sequence[LintInput] = (), jobs: int | None = None, *, cache: bool = True
    ) -> None:
        self._jobs = jobs
        self._count = 0
        self._done: list[list[ShellComment]] | None = None
        self._scripts: list[tuple[int, int, str]] = []  # (input, RUN line, script)
        self._keys: list[str] = []
        self._known: dict[str, _Found] = {}
        self._todo: dict[str, str] = {}  # added since the last start: key -> script
        self._asked: set[str] = set()  # keys looked up or started already
        self._pending = 0
        self._use_cache = _cache_enabled(cache)
        self._cache: _Cache | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._files = 0
        self._running: list[tuple[subprocess.Popen[bytes], Path, dict[str, str]]] = []
        self._binary = shutil.which("shellcheck")
        self._salt = b""
        if self._binary is not None:
            self._salt = f"{_binary_id(self._binary)}\0{_EXCLUDED}\0{_NORC}\0".encode()
        for lint in inputs:
            self.add(lint)
        self.start()

    @property
    def pending(self) -> int:
        """Characters of script added and not started yet."""
        return self._pending

    @property
    def running(self) -> int:
        """ShellCheck processes still running."""
        return sum(1 for proc, _, _ in self._running if proc.poll() is None)

    def add(self, lint: LintInput) -> None:
        """Queue the RUNs of one more input (started by the next :meth:`start`)."""
        k = self._count
        self._count += 1
        if self._binary is None:
            return
        for run, text in _scripts(lint):
            key = hashlib.sha256(self._salt + text.encode()).hexdigest()
            self._scripts.append((k, run.location.start_line, text))
            self._keys.append(key)
            if key not in self._asked and key not in self._todo:
                self._todo[key] = text
                self._pending += len(text)

    def start(self, jobs: int | None = None) -> None:
        """Answer the queued scripts from the cache and start ShellCheck on the others,
        in ``jobs`` shares (default: the batch's)."""
        if self._binary is None or not self._todo:
            return
        todo, self._todo, self._pending = self._todo, {}, 0
        self._asked.update(todo)
        if self._use_cache and self._cache is None:
            self._cache = _Cache(user_cache_dir() / _CACHE_NAME)
        if self._cache is not None:
            self._known.update(self._cache.get(sorted(todo)))
            todo = {k: t for k, t in todo.items() if k not in self._known}
        if todo:
            self._start(self._binary, todo, jobs or self._jobs)

    def _start(self, binary: str, todo: dict[str, str], jobs: int | None) -> None:
        jobs = max(1, min(jobs or os.cpu_count() or 1, 8, len(todo)))
        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="imageforge-sc-")
        tmp = Path(self._tmp.name)
        shares: list[dict[str, str]] = [{} for _ in range(jobs)]  # file name -> key
        sizes = [0] * jobs
        for key, text in sorted(todo.items(), key=lambda e: -len(e[1])):
            name = str(tmp / f"run{self._files}.sh")
            self._files += 1
            Path(name).write_text(text, encoding="utf-8")
            j = sizes.index(min(sizes))  # largest first onto the lightest share
            shares[j][name] = key
            sizes[j] += len(text)
        # Output to files, not pipes: a share whose pipe filled would wait for the
        # parent to drain it, one share after another.
        for share in (s for s in shares if s):
            sink = tmp / f"out{len(self._running)}.json"
            with sink.open("wb") as fh:
                cmd = [binary, "--format=json1", _NORC, f"--exclude={_EXCLUDED}", "--", *share]
                proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.DEVNULL)
            self._running.append((proc, sink, share))

    def _collect(self) -> None:
        checked: dict[str, list[tuple[str, str, str]]] = {}
        for proc, sink, share in self._running:
            code = proc.wait()
            stdout = sink.read_text(encoding="utf-8")
            if code not in (0, 1) or (code == 1 and not stdout.strip()):
                continue  # a crashed share: its scripts stay unanswered, and uncached
            for name in share.values():
                checked.setdefault(name, [])
            comments = json.loads(stdout).get("comments", []) if stdout.strip() else []
            for c in comments:
                key = share.get(str(c.get("file")))
                if key is not None:
                    checked[key].append((f"SC{c['code']}", str(c["level"]), str(c["message"])))
        fresh = {k: tuple(sorted(set(v))) for k, v in checked.items()}
        self._known.update(fresh)
        if self._cache is not None:
            self._cache.put(fresh)

    def results(self) -> list[list[ShellComment]]:
        if self._done is None:
            try:
                self.start()
                self._collect()
            finally:
                self.close()
            found: list[set[ShellComment]] = [set() for _ in range(self._count)]
            for key, (k, line, _) in zip(self._keys, self._scripts, strict=True):
                for code, level, message in self._known.get(key, ()):
                    found[k].add(ShellComment(code, level, message, line))
            self._done = [sorted(c, key=lambda s: (s.line, s.code, s.message)) for c in found]
        return self._done

    def close(self) -> None:
        """Stop the running processes and remove their files (idempotent)."""
        for proc, _, _ in self._running:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        self._running = []
        if self._cache is not None:
            self._cache.close()
        if self._tmp is not None:
            with contextlib.suppress(OSError):
                self._tmp.cleanup()
            self._tmp = None
