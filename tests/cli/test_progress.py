from __future__ import annotations

import io
import re
import threading

from rich.console import Console

from imageforge.cli._progress import PlainProgress, ProgressMode, progress_sink
from imageforge.cli._progress_rich import RichProgress
from imageforge.progress import NULL_PROGRESS, ProgressSink, RecordingProgress

TS = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"


def _strip_ts(text: str) -> list[str]:
    lines = text.splitlines()
    assert all(re.match(TS + " ", line) for line in lines), lines
    return [line.split(" ", 1)[1] for line in lines]


def test_plain_lines_for_a_sized_task() -> None:
    out = io.StringIO()
    sink = PlainProgress(out)
    sink.start("blob", "pushing layer 1", total=4 * 1024 * 1024, unit="bytes")
    for _ in range(8):
        sink.advance("blob", 512 * 1024)
    sink.note("mounted from library/base")
    sink.done("blob")
    lines = _strip_ts(out.getvalue())
    assert lines[0] == "pushing layer 1 (4.0 MiB)"
    assert lines[1:4] == [
        "pushing layer 1: 25% (1.0 MiB/4.0 MiB)",
        "pushing layer 1: 50% (2.0 MiB/4.0 MiB)",
        "pushing layer 1: 75% (3.0 MiB/4.0 MiB)",
    ]
    assert lines[4] == "mounted from library/base"
    assert re.fullmatch(r"pushing layer 1: done in \d+\.\ds", lines[5])


def test_plain_failure_and_unknown_total() -> None:
    out = io.StringIO()
    sink = PlainProgress(out)
    sink.start("s", "step 3/7: RUN make")
    sink.advance("s", 5)
    sink.done("s", "exit status 2", failed=True)
    lines = _strip_ts(out.getvalue())
    assert lines[0] == "step 3/7: RUN make"
    assert re.fullmatch(r"step 3/7: RUN make: FAILED in \d+\.\ds: exit status 2", lines[1])


def test_plain_is_thread_safe() -> None:
    out = io.StringIO()
    sink = PlainProgress(out)

    def work(i: int) -> None:
        sink.start(f"k{i}", f"task {i}", total=100)
        for _ in range(100):
            sink.advance(f"k{i}")
        sink.done(f"k{i}")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = _strip_ts(out.getvalue())
    assert len(lines) == 8 * 5  # start, 25, 50, 75, done for each


def test_rich_renders_bars_and_notes() -> None:
    buf = io.StringIO()
    rp = RichProgress(Console(file=buf, force_terminal=True, width=100))
    with rp.live() as sink:
        sink.start("a", "probing this machine", total=3, unit="checks")
        sink.advance("a", 3)
        sink.note("runtime: runc")
        sink.done("a")
    text = buf.getvalue()
    assert "probing this machine" in text
    assert "3/3 checks" in text
    assert "runtime: runc" in text


def test_auto_mode_is_plain_without_a_terminal() -> None:
    out = io.StringIO()
    with progress_sink(ProgressMode.AUTO, stream=out) as sink:
        assert isinstance(sink, PlainProgress)
        sink.note("hello")
    assert _strip_ts(out.getvalue()) == ["hello"]


def test_quiet_mode_prints_nothing() -> None:
    out = io.StringIO()
    with progress_sink(ProgressMode.QUIET, stream=out) as sink:
        sink.start("x", "never shown")
        sink.done("x")
    assert sink is NULL_PROGRESS and out.getvalue() == ""


def test_sinks_satisfy_the_protocol() -> None:
    for sink in (PlainProgress(io.StringIO()), RecordingProgress(), NULL_PROGRESS):
        assert isinstance(sink, ProgressSink)
