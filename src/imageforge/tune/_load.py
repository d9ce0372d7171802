"""The load ``tune`` puts on a container: any command on the host (told where the
container listens through the environment), or the built-in HTTP generator
(``--load-http URL --rps N --concurrency C``: httpx, asynchronous, requests started at
a steady rate with at most C in flight), which reports latency percentiles and
throughput."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from imageforge.errors import InvalidArgument, StepFailed
from imageforge.tune._series import percentile

__all__ = ["CommandLoad", "HttpLoad", "LoadResult", "Request"]

_TAIL = 20


@dataclass(frozen=True)
class Request:
    """One request of the built-in generator: when it started (monotonic seconds), how
    long it took, whether it got a 2xx/3xx answer."""

    at: float
    seconds: float
    ok: bool


@dataclass(frozen=True)
class LoadResult:
    """What the load itself saw over the measured window (after warm-up);
    ``exit_code`` is a load command's (None: still running when the run ended)."""

    kind: str
    seconds: float
    requests: int = 0
    errors: int = 0
    latency_ms: Mapping[str, float] | None = None
    exit_code: int | None = None

    @property
    def throughput(self) -> float:
        """Answered requests per second."""
        return (self.requests - self.errors) / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "seconds": round(self.seconds, 3)}
        if self.kind == "http":
            out |= {
                "requests": self.requests,
                "errors": self.errors,
                "throughput_rps": round(self.throughput, 2),
                "latency_ms": dict(self.latency_ms or {}),
            }
        else:
            out["exit_code"] = self.exit_code
        return out


class HttpLoad:
    """GET ``url`` ``rps`` times a second with at most ``concurrency`` in flight."""

    def __init__(self, url: str, rps: float, concurrency: int, timeout: float = 10.0) -> None:
        if not url.startswith(("http://", "https://")):
            raise InvalidArgument(f"--load-http {url!r} is not an http:// or https:// URL")
        if rps <= 0 or concurrency <= 0:
            raise InvalidArgument("--rps and --concurrency must be positive")
        self.url, self.rps, self.concurrency, self.timeout = url, rps, concurrency, timeout

    def ready(self) -> bool:
        """Whether the service answers at all (any HTTP status)."""
        try:
            httpx.get(self.url, timeout=2.0)
        except httpx.HTTPError:
            return False
        return True

    async def _run(self, seconds: float) -> list[Request]:
        done: list[Request] = []
        gate = asyncio.Semaphore(self.concurrency)
        limits = httpx.Limits(max_connections=self.concurrency)
        async with httpx.AsyncClient(limits=limits, timeout=self.timeout) as client:

            async def one() -> None:
                async with gate:
                    start = time.monotonic()
                    if start >= stop:  # queued past the end: the service fell behind
                        return
                    try:
                        r = await client.get(self.url)
                        ok = r.status_code < 400
                    except httpx.HTTPError:
                        ok = False
                    done.append(Request(start, time.monotonic() - start, ok))

            tasks = []
            begin = time.monotonic()
            stop = begin + seconds
            n = 0
            while (due := begin + n / self.rps) < stop:
                await asyncio.sleep(max(due - time.monotonic(), 0))
                tasks.append(asyncio.create_task(one()))
                n += 1
            await asyncio.gather(*tasks)
        return done

    def run(self, seconds: float) -> list[Request]:
        """Every request sent during ``seconds``: those in flight at the end are waited
        for, those still queued for a connection slot (the service fell behind the
        rate) are dropped, so the run ends on time and throughput is the capacity."""
        return asyncio.run(self._run(seconds))

    @staticmethod
    def result(requests: Sequence[Request], since: float, until: float) -> LoadResult:
        """The requests started in [``since``, ``until``) as a result."""
        kept = [r for r in requests if since <= r.at < until]
        latencies = [r.seconds * 1000 for r in kept if r.ok]
        return LoadResult(
            "http",
            until - since,
            requests=len(kept),
            errors=sum(not r.ok for r in kept),
            latency_ms={
                name: round(percentile(latencies, p), 2)
                for name, p in (("p50", 50), ("p90", 90), ("p95", 95), ("p99", 99), ("max", 100))
            },
        )


class CommandLoad:
    """``argv`` run on the host with ``env`` added; stopped (SIGTERM, then SIGKILL) if
    it outlives the time it is given, which is not a failure; a non-zero exit is."""

    def __init__(self, argv: Sequence[str]) -> None:
        if not argv:
            raise InvalidArgument("--load needs a command")
        self.argv = list(argv)

    def run(self, env: Mapping[str, str], seconds: float) -> LoadResult:
        start = time.monotonic()
        with tempfile.TemporaryFile() as out:
            try:
                proc = subprocess.Popen(
                    self.argv,
                    env={**os.environ, **env},
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            except OSError as exc:
                raise StepFailed(
                    f"the load command {self.argv[0]!r} could not start: {exc.strerror}",
                    exit_code=127,
                    hint="give a command on this host's PATH, e.g. --load 'sh -c ...'",
                ) from None
            stopped = False
            try:
                proc.wait(timeout=seconds)
            except subprocess.TimeoutExpired:
                stopped = True
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
            except BaseException:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                raise
            elapsed = time.monotonic() - start
            if proc.returncode != 0 and not stopped:
                out.seek(0)
                tail = tuple(out.read().decode(errors="replace").splitlines()[-_TAIL:])
                raise StepFailed(
                    f"the load command failed (exit code {proc.returncode}) after "
                    f"{elapsed:.1f}s: {' '.join(self.argv)}",
                    exit_code=proc.returncode,
                    output=tail,
                    hint="its output is above; the container was stopped and removed",
                )
        return LoadResult("command", elapsed, exit_code=None if stopped else proc.returncode)
