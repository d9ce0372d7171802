"""schemathesis (its own CLI, as a user runs it) against ``/api/v1/openapi.json`` of a
live server: generated requests, for every operation, never meet a server error; and the
description itself is a valid OpenAPI 3.0 document by schemathesis' loader."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from imageforge.registry.api._openapi import openapi
from tests.registry.conftest import ADMIN_PASSWORD, Server


@pytest.mark.slow
def test_schemathesis_finds_no_server_error(server: Server) -> None:
    st = shutil.which("st", path=str(Path(sys.executable).parent))
    assert st is not None, "schemathesis is a dev dependency: 'make setup' installs it"
    r = subprocess.run(
        [
            st,
            "run",
            f"{server.url}/api/v1/openapi.json",
            "--checks",
            "not_a_server_error",
            "--max-examples",
            "15",
            "--seed",
            "1",
            "--auth",
            f"admin:{ADMIN_PASSWORD}",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert r.returncode == 0, r.stdout[-5000:] + r.stderr[-2000:]
    operations = sum(len(methods) for methods in openapi()["paths"].values())
    assert f"Tested: {operations}" in r.stdout and " passed" in r.stdout
