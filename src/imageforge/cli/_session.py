"""The library session a command works in, made from its flags."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from imageforge.cli._options import GlobalOptions
from imageforge.cli._progress import ProgressMode, progress_sink
from imageforge.pipeline import Session

__all__ = ["session"]


@contextmanager
def session(
    opts: GlobalOptions,
    progress: ProgressMode = ProgressMode.QUIET,
    *,
    tls_verify: bool = True,
    authfile: Path | None = None,
) -> Iterator[Session]:
    """A :class:`~imageforge.pipeline.Session` on ``--root`` reporting to the
    ``--progress`` sink; closed (sources, registry client) when the command is done."""
    with (
        progress_sink(progress) as sink,
        Session(opts.root, tls_verify=tls_verify, authfile=authfile, progress=sink) as s,
    ):
        yield s
