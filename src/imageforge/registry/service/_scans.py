"""Scans and pull policies as the management API and the admin commands see them: a
project's policy (``scan_on_push``, ``prevent_vulnerable`` with its severity), the CVE
allowlists (a project's, and the registry's own), a manifest's scan result in the shape
Harbor gives it, and scans started by hand. Who may: members read their project's
policy, allowlist and results; its admins change them; system admins change the
registry's allowlist; whoever may push to a repository may start a scan in it."""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Callable
from typing import Any

from imageforge.errors import Denied, InvalidArgument, NotFound, Unavailable
from imageforge.oci import Digest, rfc3339
from imageforge.registry.auth import Access
from imageforge.registry.meta import (
    SEVERITIES,
    AllowEntry,
    ManifestRow,
    MetaStore,
    ScanResult,
)
from imageforge.registry.scanning import is_image
from imageforge.registry.service._manage import OPERATOR, Management
from imageforge.registry.service._manifests import stored_manifest
from imageforge.registry.storage import RegistryStorage

__all__ = ["ScanService"]

_CVE = re.compile(r"^[A-Za-z][A-Za-z0-9]*-[A-Za-z0-9][A-Za-z0-9:._-]{0,100}$")
_STATUS = {"queued": "Pending", "running": "Running"}
_PREDICATE = re.compile(r"^[a-z][a-z0-9]{0,40}$")
_PEM = re.compile(
    r"^-----BEGIN ([A-Z ]*PUBLIC KEY|CERTIFICATE)-----\n[A-Za-z0-9+/=\n]+-----END \1-----\n?$"
)


def _public_key(pem: str) -> str:
    """``pem`` if it looks like a PEM public key (the verifier parses it when used)."""
    text = pem.strip().replace("\r\n", "\n") + "\n"
    if not _PEM.fullmatch(text):
        raise InvalidArgument(
            "a key is not a PEM public key (-----BEGIN PUBLIC KEY----- ...)",
            hint="give the cosign.pub that cosign generate-key-pair or imageforge key generate"
            " wrote",
        )
    return text


class ScanService:
    """``version`` gives the scanner's database version (None: nothing scans here, so
    no scan can be started)."""

    def __init__(
        self,
        meta: MetaStore,
        storage: RegistryStorage,
        manage: Management,
        version: Callable[[], str] | None = None,
    ) -> None:
        self.meta = meta
        self.storage = storage
        self.manage = manage
        self.version = version

    # --- policies
    def policy(self, by: str | None, project: str) -> dict[str, Any]:
        self.manage.project(by, project)  # NotFound unless ``by`` may see it
        return {"project": project, **self.meta.scans.policy(project).to_json()}

    def set_policy(self, by: str | None, project: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Change the settings named in ``changes``; the others keep their values."""
        self.manage.require_project_admin(by, project)
        severity = changes.get("severity")
        if severity is not None and str(severity).lower() not in SEVERITIES:
            raise InvalidArgument(f"severity {severity!r} is not one of {', '.join(SEVERITIES)}")
        if severity is not None:
            changes = {**changes, "severity": str(severity).lower()}
        if "keys" in changes:
            changes["keys"] = tuple(_public_key(k) for k in changes["keys"])
        wanted = changes.get("required_attestation")
        if wanted and not (_PREDICATE.fullmatch(wanted) or "://" in wanted):
            raise InvalidArgument(
                f"required_attestation {wanted!r} is neither a predicate type URI nor a short name",
                hint="e.g. slsaprovenance1, spdxjson, cyclonedx, or https://slsa.dev/provenance/v1",
            )
        policy = dataclasses.replace(self.meta.scans.policy(project), **changes)
        self.meta.scans.set_policy(project, policy)
        return {"project": project, **policy.to_json()}

    # --- allowlists
    def _scope(self, by: str | None, project: str | None, change: bool) -> str:
        if project is None:
            if change:
                self.manage.require_admin(by)
            return ""
        if change:
            self.manage.require_project_admin(by, project)
        else:
            self.manage.project(by, project)
        return project

    def allowlist(self, by: str | None, project: str | None) -> dict[str, Any]:
        """The allowlist of ``project`` (None: the registry's)."""
        scope = self._scope(by, project, change=False)
        return _allowlist_json(scope, self.meta.scans.allowlist(scope))

    def set_allowlist(
        self, by: str | None, project: str | None, items: list[tuple[str, float | None]]
    ) -> dict[str, Any]:
        """Replace the allowlist with ``items`` (CVE id, expiry in epoch seconds or None)."""
        scope = self._scope(by, project, change=True)
        entries = []
        for cve, expires in items:
            if not _CVE.fullmatch(cve):
                raise InvalidArgument(
                    f"{cve!r} is not a vulnerability id", hint="e.g. CVE-2021-44228, GHSA-..."
                )
            entries.append(AllowEntry(cve.upper(), expires, scope))
        self.meta.scans.set_allowlist(scope, entries)
        return _allowlist_json(scope, self.meta.scans.allowlist(scope))

    # --- results
    def result(self, by: str | None, repo: str, digest: Digest) -> dict[str, Any]:
        """The latest scan of ``digest`` in ``repo``, in Harbor's shape."""
        self._manifest(by, repo, digest)
        return scan_json(repo, digest, self.meta.scans.result(digest), self._job_state(digest))

    def start(self, by: str | None, repo: str, digest: Digest) -> dict[str, Any]:
        """Queue a scan of ``digest`` now (of each image of an index)."""
        self._manifest(by, repo, digest)
        if (
            by != OPERATOR
            and not self.manage.authz.granted(
                by, Access("repository", repo, frozenset({"push"}))
            ).actions
        ):
            raise Denied(f"{by} may not push to {repo}, so may not start its scans")
        if self.version is None:
            raise Unavailable(
                "this registry has no scanner",
                hint="scans run in imageforge registry serve, with a vulnerability database"
                " under its --root",
            )
        version = self.version()
        images = self.meta.view().index_children(repo, digest) or [digest]
        queued = []
        for image in images:
            if is_image(stored_manifest(self.storage, image)):
                self.meta.scans.enqueue(repo, image, version, again=True)
                queued.append(str(image))
        if not queued:
            raise InvalidArgument(
                f"{repo}@{digest} is not an image or an index of images (nothing to scan)"
            )
        return {"repository": repo, "digest": str(digest), "queued": queued, "db_version": version}

    def _manifest(self, by: str | None, repo: str, digest: Digest) -> ManifestRow:
        self.manage._readable(by, repo)  # NotFound unless ``by`` may pull from it
        row = self.meta.manifest(repo, digest)
        if row is None:
            raise NotFound(f"manifest {repo}@{digest} is not known")
        return row

    def _job_state(self, digest: Digest) -> str | None:
        jobs = self.meta.scans.jobs(digest)
        return jobs[-1].state if jobs else None


def _allowlist_json(scope: str, entries: list[AllowEntry]) -> dict[str, Any]:
    now = time.time()
    return {
        "project": scope or None,
        "items": [
            {
                "cve": e.cve,
                "expires": None if e.expires is None else rfc3339(e.expires),
                "expires_at": e.expires,
                "active": e.active(now),
            }
            for e in entries
        ],
    }


def scan_json(
    repo: str, digest: Digest, result: ScanResult | None, job_state: str | None
) -> dict[str, Any]:
    """A scan result as Harbor's scan overview gives it: the status, the highest
    severity, counts by severity, and the findings."""
    if job_state in _STATUS:
        status = _STATUS[job_state]
    elif result is None:
        status = "Not Scanned"
    else:
        status = "Success" if result.status == "success" else "Error"
    doc: dict[str, Any] = {
        "repository": repo,
        "digest": str(digest),
        "scan_status": status,
        "scanner": {"name": "imageforge", "vendor": "imageforge"},
    }
    if result is None:
        return {**doc, "severity": None, "summary": None, "vulnerabilities": []}
    counts = result.counts()
    top = next((s for s, n in counts.items() if n), None)
    return {
        **doc,
        "db_version": result.db_version,
        "completed": rfc3339(result.completed) if result.completed else None,
        "message": result.message,
        "severity": None if top is None else top.capitalize(),
        "summary": {
            "total": len(result.findings),
            "fixable": sum(1 for f in result.findings if f.fixed),
            "summary": {s.capitalize(): n for s, n in counts.items() if n},
        },
        "vulnerabilities": [
            {
                "id": f.id,
                "package": f.package,
                "version": f.version,
                "fix_version": f.fixed,
                "severity": f.severity.capitalize(),
                "aliases": list(f.aliases),
            }
            for f in result.findings
        ],
    }
