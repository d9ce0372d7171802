"""The executor example of ``build --isolation none``: its Kubernetes Job manifest is
valid against the Kubernetes OpenAPI schema (kubernetes-validate, strict: no unknown
field), asks for no privilege, and its Dockerfile passes imageforge's own lint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from tests.conftest import run_cli

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "executor"


def _job() -> dict[str, Any]:
    data = yaml.safe_load((EXAMPLE / "job.yaml").read_text())
    assert isinstance(data, dict)
    return data


@pytest.mark.parametrize("version", ["1.29.0", "1.32.0"])
def test_the_job_manifest_is_valid_kubernetes(version: str) -> None:
    kubernetes_validate.validate(_job(), version, strict=True)


def test_an_invalid_manifest_is_caught() -> None:
    job = _job()
    job["spec"]["template"]["spec"]["containers"][0]["securityContext"]["privileged"] = "no"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(job, "1.32.0", strict=True)


def test_the_job_asks_for_no_privilege() -> None:
    (container,) = _job()["spec"]["template"]["spec"]["containers"]
    security = container["securityContext"]
    assert security["privileged"] is False and security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["add"] == [] and security["runAsUser"] == 0
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}


def test_the_executor_dockerfile_passes_lint() -> None:
    proc = run_cli(["lint", str(EXAMPLE / "Dockerfile")])
    assert proc.returncode == 0, proc.stdout + proc.stderr
