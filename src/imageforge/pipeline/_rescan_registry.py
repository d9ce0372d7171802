"""``rescan HOST/PROJECT``: the images of a project of an imageforge registry scanned
again by the registry itself (its scan jobs, against its own vulnerability database),
reporting only the findings that are new since this client's last rescan of each image.

Through the management API: the project's repositories and manifests are listed, a scan
of each image or index is started (``POST .../artifacts/DIGEST/scan``: the registry
queues one job per image, for its current database version), and each image's result is
read once its job is done with that version. What was found is recorded in the local scan
cache under ``rescan/HOST/PROJECT`` (see :mod:`imageforge.pipeline._rescan`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from imageforge.errors import InvalidArgument, Unavailable
from imageforge.oci import Digest
from imageforge.pipeline._rescan import (
    ImageRescan,
    NewFinding,
    Rescan,
    last_rescan,
    record_rescan,
)
from imageforge.pipeline._session import Session
from imageforge.scan import Gate, ScanCache

__all__ = ["rescan_project"]

_DONE = frozenset({"Success", "Error"})
_NOT_IMAGES = ("signature", "attestation", "sbom", "cosign")


def _json(session: Session, method: str, host: str, path: str, what: str) -> Any:
    ok = (200, 202) if method == "POST" else (200,)
    return session.client.request(method, host, path, what=what, ok=ok).json()


def _scan_path(project: str, repo: str, digest: str) -> str:
    inner = quote(repo.removeprefix(project + "/"), safe="/")
    return f"/api/v1/projects/{project}/repositories/{inner}/artifacts/{digest}/scan"


def _wait(
    session: Session,
    host: str,
    path: str,
    version: str,
    timeout: float,
    sleep: Callable[[float], None],
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        doc = _json(session, "GET", host, path, "scan result")
        if doc.get("scan_status") in _DONE and doc.get("db_version") == version:
            return dict(doc)
        if time.monotonic() > deadline:
            raise Unavailable(
                f"{host}: the scan of {doc.get('repository')}@{doc.get('digest')} did not"
                f" finish in {timeout:.0f}s (status {doc.get('scan_status')})",
                hint="the registry's scan workers may be busy: run rescan again later",
            )
        sleep(0.2)


def _failing(found: list[NewFinding], gate: Gate) -> int:
    if not gate.active:
        return 0
    if not gate.threshold:
        return len(found)
    return sum(1 for f in found if gate.severities and f.severity in gate.severities)


def _sarif_runs(target: str, new: list[NewFinding]) -> tuple[dict[str, Any], ...]:
    """The new findings of one image as one SARIF run (none when there are none)."""
    from imageforge import __version__
    from imageforge.errors import Location
    from imageforge.report import Finding, Report, RuleInfo, Severity, to_sarif

    if not new:
        return ()
    level = {"CRITICAL": Severity.ERROR, "HIGH": Severity.ERROR, "MEDIUM": Severity.WARNING}
    rules = {
        f.id: RuleInfo(f.id, "PackageVulnerability", level.get(f.severity, Severity.INFO), f.id)
        for f in new
    }
    findings = tuple(
        Finding(
            f.id,
            level.get(f.severity, Severity.INFO),
            f"{f.id} ({f.severity}) in {f.package} {f.version}"
            + (f", fixed in {f.fixed}" if f.fixed else ""),
            Location(target, 1),
        )
        for f in new
    )
    doc = to_sarif(Report("imageforge", __version__, tuple(rules.values()), findings, (target,)))
    run: dict[str, Any] = doc["runs"][0]
    run["properties"] = {"target": target, "targetKind": "registry"}
    return (run,)


def _images(session: Session, host: str, project: str) -> list[tuple[str, str, list[str]]]:
    """(repository, digest, tags) of each manifest of the project that may be an image."""
    query = f"/api/v1/repositories?project={quote(project)}"
    repos = _json(session, "GET", host, query, f"the repositories of project {project}")
    out = []
    for repo in repos:
        query = f"/api/v1/manifests?repository={quote(repo)}"
        rows = _json(session, "GET", host, query, f"the manifests of {repo}")
        for row in rows:
            kind = str(row.get("artifact_type") or "")
            tags = [str(t) for t in row.get("tags") or []]
            if any(k in kind for k in _NOT_IMAGES) or any(
                t.endswith((".sig", ".att", ".sbom")) for t in tags
            ):
                continue
            out.append((str(repo), str(row["digest"]), tags))
    return out


def rescan_project(
    session: Session,
    host: str,
    project: str,
    cache: ScanCache,
    gate: Gate,
    *,
    timeout: float = 300.0,
    sleep: Callable[[float], None] = time.sleep,
) -> Rescan:
    """Have the registry at ``host`` scan every image of ``project`` again and report,
    per image, the findings not found at the last rescan from here; ``gate`` applies to
    those (by severity: the registry's results carry no CVSS score)."""
    if gate.min_cvss is not None and gate.severities is None:
        raise InvalidArgument(
            "--min-cvss: a registry's scan results carry severities, not CVSS scores",
            hint="give --severity (e.g. HIGH,CRITICAL) for a registry project",
        )
    where = f"{host}/{project}"
    version = ""
    out: list[ImageRescan] = []
    for repo, digest, tags in _images(session, host, project):
        names = tuple(f"{host}/{repo}:{t}" for t in tags) or (f"{host}/{repo}@{digest}",)
        try:
            started = _json(
                session, "POST", host, _scan_path(project, repo, digest), f"scan of {repo}"
            )
        except InvalidArgument:
            continue  # not an image nor an index of images: nothing to scan
        version = str(started["db_version"])
        for image in started["queued"]:
            path = _scan_path(project, repo, image)
            result = _wait(session, host, path, version, timeout, sleep)
            if result.get("scan_status") != "Success":
                raise Unavailable(
                    f"{host}: the scan of {repo}@{image} failed: {result.get('message')}",
                    hint="see the registry's log; its vulnerability database may be missing",
                )
            shown = names if image == digest else tuple(f"{n}@{image}" for n in names)
            previous, seen = last_rescan(cache, Digest(image), where)
            found = [
                NewFinding(
                    str(v["id"]),
                    str(v["severity"]).upper(),
                    str(v["package"]),
                    str(v["version"]),
                    str(v.get("fix_version") or ""),
                )
                for v in result.get("vulnerabilities") or []
            ]
            ids = {f.id for f in found}
            record_rescan(cache, Digest(image), version, list(ids), where)
            new = [
                f for f in found if f.id not in seen and not (gate.ignore_unfixed and not f.fixed)
            ]
            out.append(
                ImageRescan(
                    shown,
                    Digest(image),
                    previous,
                    True,
                    tuple(new),
                    _failing(new, gate),
                    gate.code,
                    tuple(sorted(seen - ids)),
                    _sarif_runs(shown[0], new),
                )
            )
    return Rescan(version, tuple(out))
