"""httpx as imageforge imports it (``imageforge._httpx``): without the ``httpx``
command's module, which would load rich's tables and progress bars and pygments into
every registry command, and without changing anything for a program that imported
httpx first."""

from __future__ import annotations

import subprocess
import sys


def _run(probe: str) -> list[str]:
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()


def test_the_registry_client_loads_httpx_without_its_command_line_client() -> None:
    out = _run(
        "import sys\n"
        "import imageforge.remote\n"
        "import httpx\n"
        "print(httpx.Client is imageforge.remote._client.httpx.Client)\n"
        "print(*(m in sys.modules for m in ('httpx._main', 'pygments', 'rich.progress')))\n"
        "import httpx._main\n"  # a program may still import it afterwards
        "print(callable(httpx._main.main))\n"
    )
    assert out == ["True", "False", "False", "False", "True"]


def test_a_program_that_imported_httpx_first_keeps_it_whole() -> None:
    out = _run(
        "import sys\n"
        "import httpx\n"
        "import imageforge.remote\n"
        "print(httpx.main is sys.modules['httpx._main'].main)\n"
    )
    assert out == ["True"]
