"""Retention as a service: a project's policy (who may see and set it), a run (dry or
real) and the runs' log. The API, the admin commands and the server's schedule all
come here.

A run reads the project's artifacts (top-level manifests with their tags, push times
and pull times), lets the rules decide (``_rules.evaluate``) and asks the delete gates
about each artifact to go: one an immutable tag holds is kept, and the report says so.
A dry run stops there; a real run deletes exactly that list (each manifest with its
tags, the gates checked again in the deleting transaction), audits every deletion and
the run, emits a ``delete`` event per artifact and a ``retention`` event for the run,
then collects garbage with the policy's grace period, so the bytes are freed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from croniter import CroniterError, croniter

from imageforge.errors import ImageforgeError, InvalidArgument, NotFound
from imageforge.oci import Digest
from imageforge.registry._gc import collect_garbage
from imageforge.registry._pulls import PullClock
from imageforge.registry.events import Event, EventSink, NoEvents, Resource
from imageforge.registry.meta import MetaStore, in_project
from imageforge.registry.policy import GateContext, Gates
from imageforge.registry.retention._rules import (
    Artifact,
    RetentionPolicy,
    Verdict,
    evaluate,
    policy_from_json,
)
from imageforge.registry.retention._store import RetentionStore, RunRow
from imageforge.registry.service import OPERATOR, Management
from imageforge.registry.storage import RegistryStorage

__all__ = ["Retention", "check_cron", "next_time"]


def check_cron(expr: str, what: str = "schedule") -> str:
    """``expr`` if croniter reads it (5 fields, or 6 with seconds last) and it fires."""
    hint = "five fields: minute hour day month weekday, e.g. '0 3 * * *'"
    try:
        valid = croniter.is_valid(expr)
    except Exception:  # croniter's parser raises more than its own errors on odd input
        valid = False
    if not valid:
        raise InvalidArgument(f"{what} {expr!r} is not a cron expression", hint=hint)
    try:
        next_time(expr, time.time())
    except CroniterError:
        raise InvalidArgument(f"{what} {expr!r} never fires", hint=hint) from None
    return expr


def next_time(expr: str, after: float) -> float:
    """When the cron expression next fires after ``after`` (epoch seconds, UTC)."""
    return float(croniter(expr, after).get_next(float))


def _who(by: str | None) -> str | None:
    return "operator" if by == OPERATOR else by


class Retention:
    def __init__(
        self,
        meta: MetaStore,
        manage: Management,
        gates: Gates,
        storage: RegistryStorage,
        *,
        events: EventSink | None = None,
        pulls: PullClock | None = None,
        upload_expiry: float | None = None,
    ) -> None:
        self.meta = meta
        self.store = RetentionStore(meta)
        self.manage = manage
        self.gates = gates
        self.storage = storage
        self.events = events or NoEvents()
        self.pulls = pulls
        self.upload_expiry = upload_expiry

    # --- the policy
    def _policy(self, project: str) -> RetentionPolicy:
        doc = self.store.policy_doc(project)
        return RetentionPolicy() if doc is None else policy_from_json(doc)

    def policy(self, by: str | None, project: str) -> dict[str, Any]:
        """The project's policy (members and public readers see it)."""
        self.manage.project(by, project)
        return {"project": project, **self._policy(project).to_json()}

    def set_policy(self, by: str | None, project: str, doc: object) -> dict[str, Any]:
        """Replace the project's policy (project admins); its schedule starts now."""
        self.manage.require_project_admin(by, project)
        policy = policy_from_json(doc)
        if policy.schedule is not None:
            check_cron(policy.schedule)
        self.store.set_policy_doc(project, policy.to_json())
        name = f"retention:{project}"
        if policy.schedule is None:
            self.store.set_schedule(name, None)
        else:
            self.store.set_schedule(name, policy.schedule, next_time(policy.schedule, time.time()))
        return {"project": project, **policy.to_json()}

    # --- runs
    def runs(self, by: str | None, project: str, limit: int = 50) -> list[RunRow]:
        self.manage.project(by, project)
        return self.store.runs(project, limit)

    def get_run(self, by: str | None, project: str, run_id: int) -> RunRow:
        self.manage.project(by, project)
        row = self.store.run(project, run_id)
        if row is None:
            raise NotFound(f"retention run {run_id} of project {project} does not exist")
        return row

    def _artifacts(self, project: str) -> list[Artifact]:
        where, bounds = in_project(project)
        q = self.meta.query
        tags: dict[tuple[str, str], list[str]] = {}
        for repo, tag, digest in q(f"SELECT repo, tag, digest FROM tags WHERE {where}", *bounds):
            tags.setdefault((str(repo), str(digest)), []).append(str(tag))
        children = {
            (str(r), str(c))
            for r, c in q(f"SELECT repo, child FROM manifest_refs WHERE {where}", *bounds)
        }
        pulled = self.store.pull_times(project)
        out = []
        for repo, digest, created, subject, size in q(
            f"SELECT repo, digest, created, subject, size FROM manifests WHERE {where}"
            " ORDER BY repo, digest",
            *bounds,
        ):
            key = (str(repo), str(digest))
            if subject is not None or key in children:
                continue  # follows its parent or subject
            out.append(
                Artifact(
                    key[0],
                    key[1],
                    tuple(sorted(tags.get(key, []))),
                    float(str(created)),
                    pulled.get(key),
                    int(str(size)),
                )
            )
        return out

    def _refusal(self, by: str | None, a: Artifact) -> str | None:
        """Why the delete gates keep the artifact (an immutable tag); None if they let
        it go."""
        digest = Digest(a.digest)
        view = self.meta.view()
        ctx = GateContext(
            "delete", a.repository, by, reference=a.digest, target="manifest", state=view
        )
        try:
            self.gates.check(digest, ctx)
            self.gates.check_in(view, digest, ctx)
        except ImageforgeError as exc:
            return exc.message
        return None

    def _plan(
        self, by: str | None, project: str, policy: RetentionPolicy
    ) -> tuple[list[Verdict], list[tuple[Artifact, str]], list[Artifact]]:
        """Retained verdicts, artifacts kept by a gate (with why), artifacts to delete."""
        if self.pulls is not None:
            self.pulls.flush()
        verdicts = evaluate(policy, project, self._artifacts(project), time.time())
        retained = [v for v in verdicts if v.retained]
        kept: list[tuple[Artifact, str]] = []
        delete: list[Artifact] = []
        for v in verdicts:
            if v.retained:
                continue
            why = self._refusal(by, v.artifact)
            if why is None:
                delete.append(v.artifact)
            else:
                kept.append((v.artifact, why))
        return retained, kept, delete

    def run(
        self,
        by: str | None,
        project: str,
        *,
        dry_run: bool = False,
        trigger: str = "manual",
        host: str = "",
        progress: Callable[[str], None] | None = None,
    ) -> RunRow:
        """Apply the project's policy (project admins): a dry run lists what a real run
        deletes; a real run deletes it and collects garbage. The run is recorded (and
        audited) either way."""
        self.manage.require_project_admin(by, project)
        policy = self._policy(project)
        run_id = self.store.start_run(project, dry_run, trigger)
        try:
            report = self._carry_out(by, project, policy, run_id, dry_run, host)
        except Exception as exc:
            self.store.finish_run(run_id, "failed", {"error": str(exc)})
            self.meta.audit_add(
                _who(by), "retention", project, f"run {run_id}", "refused", "", str(exc)[:500]
            )
            raise
        self.store.finish_run(run_id, "done", report)
        row = self.store.run(project, run_id)
        assert row is not None
        return row

    def _carry_out(
        self,
        by: str | None,
        project: str,
        policy: RetentionPolicy,
        run_id: int,
        dry_run: bool,
        host: str,
    ) -> dict[str, Any]:
        retained, kept, delete = self._plan(by, project, policy)
        deleted: list[Artifact] = []
        for a in delete:
            if dry_run:
                deleted.append(a)
                continue
            why = self._delete(by, a)
            if why is None:
                deleted.append(a)
                tags = ",".join(a.tags) or "untagged"
                self.meta.audit_add(
                    _who(by), "delete", a.repository, a.digest, "ok", "",
                    f"retention run {run_id} ({tags})",
                )  # fmt: skip
                self.events.emit(
                    Event("delete", project, _who(by), a.repository, _resources(a, host))
                )
            else:
                kept.append((a, why))
        report: dict[str, Any] = {
            "rules": [r.describe() for r in policy.rules],
            "retained": len(retained),
            "deleted": [_artifact_json(a) for a in deleted],
            "kept": [{**_artifact_json(a), "reason": why} for a, why in kept],
            "gc": None,
        }
        if not dry_run and deleted:
            try:
                gc = collect_garbage(
                    self.meta, self.storage, policy.gc_grace, upload_expiry=self.upload_expiry
                )
                report["gc"] = {
                    "manifests": len(gc.manifests),
                    "blobs": len(gc.blobs),
                    "freed_bytes": gc.freed_bytes,
                }
            except ImageforgeError as exc:  # another collection runs: it frees them
                report["gc"] = {"error": exc.message}
        verb = "would delete" if dry_run else "deleted"
        summary = f"{verb} {len(deleted)}, retained {len(retained)}, kept {len(kept)} by gates"
        self.meta.audit_add(
            _who(by), "retention", project, f"run {run_id}", "ok", "",
            ("dry run: " if dry_run else "") + summary,
        )  # fmt: skip
        if not dry_run:
            data = {
                "retention": {
                    "id": run_id,
                    "deleted": len(deleted),
                    "retained": len(retained),
                    "kept": len(kept),
                    "freed_bytes": (report["gc"] or {}).get("freed_bytes", 0),
                }
            }
            resources = [r for a in deleted for r in _resources(a, host)]
            self.events.emit(Event("retention", project, _who(by), "", resources, data))
        return report

    def _delete(self, by: str | None, a: Artifact) -> str | None:
        """Delete the artifact unless a gate refuses now (why) or it is gone."""
        digest = Digest(a.digest)
        ctx = GateContext(
            "delete", a.repository, by, reference=a.digest, target="manifest", state=None
        )
        try:
            found = self.meta.delete_manifest(
                a.repository, digest, lambda view: self.gates.check_in(view, digest, ctx)
            )
        except ImageforgeError as exc:
            return exc.message
        return None if found else "deleted meanwhile by someone else"


def _artifact_json(a: Artifact) -> dict[str, Any]:
    return {
        "repository": a.repository,
        "digest": a.digest,
        "tags": list(a.tags),
        "size": a.size,
        "pushed": a.pushed,
        "pulled": a.pulled,
    }


def _resources(a: Artifact, host: str) -> list[Resource]:
    base = f"{host}/{a.repository}" if host else a.repository
    if not a.tags:
        return [Resource(a.digest, None, f"{base}@{a.digest}")]
    return [Resource(a.digest, t, f"{base}:{t}") for t in a.tags]
