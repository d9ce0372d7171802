"""Replication runs: a rule's matching images planned as items (one per repository and
tag, copied by digest; deletions when the rule mirrors them), each copied by the
injected :class:`Replicator` with retries and exponential backoff, each item's state,
bytes and error kept as it goes, and a ``replication`` event when a run ends (webhooks
hear of failures). Triggers: manual (API, CLI), cron (retention's ``Scheduler`` runs
``replication:<rule>`` under its lease) and on push (:meth:`Replication.emit`, an
event sink).

A pull rule (direction ``pull``) plans from its endpoint, a :class:`Source` (its
catalog, or the repositories the rule names literally; each tag by the digest it names
now; with deletions mirrored, the tags here the source no longer has) and copies through
the injected :class:`Puller` into a :class:`LocalRegistry` over this registry's
``Manifests`` and ``Uploads``; an item's ``repository`` is then the source's and its
``destination`` the one here.

A run is leased (retention's ``leases`` table, ``replication-run:<id>``) by the process
running it, renewed while it runs: the run of a process that died keeps its lease until
it expires, then a serving registry takes it over (:meth:`Replication.recover`, its
pending items copied, blobs the destination has not sent again), or the rule's next
run continues it (the items left over join it; the old run shows ``interrupted``).
"""

from __future__ import annotations

import logging
import os
import re
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from imageforge.errors import Conflict, ImageforgeError, InvalidArgument, NotFound, Unsupported
from imageforge.oci import Digest, Manifest, load_json
from imageforge.registry._names import project_of
from imageforge.registry._secrets import SecretBox
from imageforge.registry.events import Event, EventSink, NoEvents, Resource
from imageforge.registry.meta import MetaStore
from imageforge.registry.proxy import ProxyStore
from imageforge.registry.replication._pull import LocalRegistry, Source
from imageforge.registry.replication._rules import (
    Endpoint,
    ReplicationRule,
    check_name,
    endpoint_from_json,
    rule_from_json,
)
from imageforge.registry.replication._store import ItemRow, ReplicationStore, RunRow
from imageforge.registry.retention import RetentionStore, next_time
from imageforge.registry.service import OPERATOR, Management, Manifests, Uploads, read_manifest
from imageforge.store import BlobReader

__all__ = ["SCHEDULE_PREFIX", "Puller", "Replication", "Replicator", "Transfer"]

_LOG = logging.getLogger("imageforge.registry.replication")
SCHEDULE_PREFIX = "replication:"
_LEASE = "replication-run:"
# cosign's legacy tags: carried with the image they name, never replicated on their own
_ATTACHED_TAG = re.compile(r"^sha256-[0-9a-f]{64}(?:\.sig|\.att|\.sbom)?$")


@dataclass(frozen=True)
class Transfer:
    """What copying one image sent: blobs uploaded (not those the destination had) and
    their bytes."""

    bytes: int = 0
    blobs: int = 0


class Replicator(Protocol):
    """Copies between this registry's storage and a remote registry (implemented
    outside the registry, over the registry client, and injected by ``registry
    serve``)."""

    def push(
        self,
        repository: str,
        digest: Digest,
        tag: str,
        endpoint: Endpoint,
        destination: str,
        bandwidth: int,
    ) -> Transfer:
        """Copy ``repository@digest`` with what is attached to it (signatures,
        attestations) to ``destination:tag`` at ``endpoint``, sending only the blobs
        it lacks, at most ``bandwidth`` bytes per second (0: no limit)."""
        ...

    def delete(self, endpoint: Endpoint, destination: str, tag: str) -> None:
        """Delete ``destination:tag`` at ``endpoint`` (gone already: no error)."""
        ...


@runtime_checkable
class Puller(Replicator, Protocol):
    """A ``Replicator`` that can also pull (direction ``pull``)."""

    def source(self, endpoint: Endpoint) -> Source:
        """The registry at ``endpoint`` as a source (closed by the caller)."""
        ...

    def pull(
        self,
        endpoint: Endpoint,
        repository: str,
        digest: Digest,
        tag: str,
        local: LocalRegistry,
        destination: str,
        bandwidth: int,
    ) -> Transfer:
        """Copy ``repository@digest`` at ``endpoint`` (an index with its children)
        with what is attached to it into ``local`` as ``destination:tag``, fetching
        only the blobs ``local`` lacks, at most ``bandwidth`` bytes per second (0: no
        limit)."""
        ...


def _labels(storage: BlobReader | None, digest: Digest) -> dict[str, str]:
    """The labels of image ``digest``'s config ({} for an index or an artifact)."""
    if storage is None:
        return {}
    try:
        with storage.open(digest) as f:
            manifest = read_manifest(f.read(4 << 20))[1]
        if not isinstance(manifest, Manifest):
            return {}
        with storage.open(manifest.config.digest) as f:
            doc = load_json(f.read(4 << 20), "config")
    except (NotFound, InvalidArgument):
        return {}
    cfg = doc.get("config") if isinstance(doc, dict) else None
    labels = cfg.get("Labels") if isinstance(cfg, dict) else None
    return {str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {}


def _no_rule(name: str) -> NotFound:
    return NotFound(f"replication rule {name} does not exist", hint="registry replication list")


class Replication:
    """The registry's replication rules and runs; system admins only."""

    def __init__(
        self,
        meta: MetaStore,
        manage: Management,
        replicator: Replicator | None,
        *,
        storage: BlobReader | None = None,
        events: EventSink | None = None,
        attempts: int = 3,
        retry_base: float = 1.0,
        lease_ttl: float = 60.0,
        secrets: SecretBox | None = None,
        manifests: Manifests | None = None,
        uploads: Uploads | None = None,
    ) -> None:
        self.meta = meta
        self.manage = manage
        self.replicator = replicator
        self.store = ReplicationStore(meta, secrets)
        self.schedules = RetentionStore(meta)
        self.storage = storage  # to read image configs for label filters
        self.events: EventSink = events or NoEvents()
        self.attempts = attempts
        self.retry_base = retry_base
        self.lease_ttl = lease_ttl
        # what pull rules store through (the serving registry's own services, so the
        # push gates, scan on push and quotas apply to what arrives)
        self.manifests = manifests
        self.uploads = uploads
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._busy: dict[str, threading.Lock] = {}
        self._active: set[int] = set()  # the runs this object started or took over
        self._guard = threading.Lock()

    # --- named endpoints
    def add_endpoint(
        self, by: str | None, name: str, doc: object, replace: bool = False
    ) -> Endpoint:
        """Add endpoint ``name`` (``doc``: url, username, password, insecure)."""
        self.manage.require_admin(by)
        endpoint = endpoint_from_json(doc, check_name(name, "replication endpoint"))
        if not replace and self.store.endpoint(name) is not None:
            raise Conflict(f"replication endpoint {name} exists", hint="--replace to change it")
        self.store.put_endpoint(endpoint)
        self.meta.audit_add(_who(by), "replication", "", name, "ok", "",
                            f"add endpoint {endpoint.url}")  # fmt: skip
        return endpoint

    def endpoints(self, by: str | None) -> list[Endpoint]:
        self.manage.require_admin(by)
        return self.store.endpoints()

    def endpoint(self, by: str | None, name: str) -> Endpoint:
        self.manage.require_admin(by)
        endpoint = self.store.endpoint(name)
        if endpoint is None:
            raise NotFound(
                f"replication endpoint {name} does not exist",
                hint="registry replication endpoint list",
            )
        return endpoint

    def delete_endpoint(self, by: str | None, name: str) -> None:
        """Delete endpoint ``name``; refused while a rule uses it."""
        self.endpoint(by, name)
        users = self.store.rules_using(name)
        if users:
            raise Conflict(
                f"replication endpoint {name} is used by rule(s) {', '.join(users)}",
                hint="delete those rules or point them at another endpoint first",
            )
        self.store.delete_endpoint(name)
        self.meta.audit_add(_who(by), "replication", "", name, "ok", "", "delete endpoint")

    # --- rules
    def add(self, by: str | None, doc: object, replace: bool = False) -> ReplicationRule:
        self.manage.require_admin(by)
        rule = rule_from_json(doc, self.store.endpoint)
        if not replace and self.store.rule(rule.name) is not None:
            raise Conflict(f"replication rule {rule.name} exists", hint="delete it first")
        self.store.put_rule(rule)
        name = SCHEDULE_PREFIX + rule.name
        if rule.trigger == "cron" and rule.enabled:
            self.schedules.set_schedule(name, rule.cron, next_time(rule.cron, time.time()))
        else:
            self.schedules.set_schedule(name, None)
        self.meta.audit_add(_who(by), "replication", "", rule.name, "ok", "", "add rule")
        return rule

    def rules(self, by: str | None) -> list[ReplicationRule]:
        self.manage.require_admin(by)
        return self.store.rules()

    def rule(self, by: str | None, name: str) -> ReplicationRule:
        self.manage.require_admin(by)
        rule = self.store.rule(name)
        if rule is None:
            raise _no_rule(name)
        return rule

    def _known(self, by: str | None, name: str) -> None:
        """Like :meth:`rule`, without opening its password: what deleting the rule and
        reading its history need (both work when this server's key cannot open it)."""
        self.manage.require_admin(by)
        if not self.store.has_rule(name):
            raise _no_rule(name)

    def delete(self, by: str | None, name: str) -> None:
        self._known(by, name)
        self.store.delete_rule(name)
        self.schedules.set_schedule(SCHEDULE_PREFIX + name, None)
        self.meta.audit_add(_who(by), "replication", "", name, "ok", "", "delete rule")

    def history(self, by: str | None, name: str | None, limit: int = 50) -> list[RunRow]:
        if name is not None:
            self._known(by, name)
        else:
            self.manage.require_admin(by)
        return self.store.runs(name, limit)

    def get_run(self, by: str | None, run: int) -> RunRow:
        self.manage.require_admin(by)
        row = self.store.run(run)
        if row is None:
            raise NotFound(f"replication run {run} does not exist")
        return row

    # --- planning
    def _plan(self, rule: ReplicationRule) -> list[tuple[str, str, str, str, str]]:
        if rule.direction == "pull":
            source = self._puller(rule).source(rule.endpoint)
            try:
                return self._plan_pull(rule, source)
            finally:
                source.close()
        items = []
        for repo in self.meta.repositories(None, None):
            if not rule.selects_repository(repo):
                continue
            for tag, digest in self.meta.tag_list(repo):
                if _ATTACHED_TAG.fullmatch(tag) or not rule.selects_tag(tag):
                    continue
                if rule.labels and not rule.selects_labels(_labels(self.storage, digest)):
                    continue
                items.append(("copy", repo, tag, str(digest), rule.destination(repo)))
        return items

    def _plan_pull(
        self, rule: ReplicationRule, source: Source
    ) -> list[tuple[str, str, str, str, str]]:
        """What rule ``rule`` fetches from ``source``: each selected tag of each
        selected repository by the digest it names now (the repositories of its
        catalog, or, without one, those the rule names literally) and, mirroring
        deletions, each selected tag here that the source no longer has."""
        listed = source.repositories()
        if listed is None:
            listed = rule.literal_repositories()
            if not listed:
                raise InvalidArgument(
                    f"replication rule {rule.name}: {rule.endpoint.url} lists no"
                    " repositories (no /v2/_catalog) and the rule names none literally",
                    hint="--repository project/name (no glob) for each repository to pull",
                )
        items = []
        proxies = ProxyStore(self.meta).projects()
        for repo in listed:
            if not rule.selects_repository(repo):
                continue
            dest = rule.destination(repo)
            self._check_destination(rule, dest, proxies)
            there = source.tags(repo)
            for tag in there:
                if _ATTACHED_TAG.fullmatch(tag) or not rule.selects_tag(tag):
                    continue
                digest = source.digest(repo, tag)
                if rule.labels and not rule.selects_labels(source.labels(repo, digest)):
                    continue
                items.append(("copy", repo, tag, str(digest), dest))
            if rule.mirror_deletions:
                kept = set(there)
                items += [
                    ("delete", repo, tag, str(digest), dest)
                    for tag, digest in self.meta.tag_list(dest)
                    if tag not in kept
                    and not _ATTACHED_TAG.fullmatch(tag)
                    and rule.selects_tag(tag)
                ]
        return items

    def _check_destination(self, rule: ReplicationRule, dest: str, proxies: set[str]) -> None:
        """InvalidArgument unless ``dest`` is in a project here that is not a proxy
        cache (whose content comes from its upstream only)."""
        project = project_of(dest)
        if "/" not in dest or self.meta.project(project) is None:
            raise InvalidArgument(
                f"replication rule {rule.name}: {dest} would be in project {project},"
                " which does not exist here",
                hint=f"registry project add {project}, or --dest-namespace PROJECT",
            )
        if project in proxies:
            raise InvalidArgument(
                f"replication rule {rule.name}: project {project} is a proxy cache: pulls"
                " into it are refused",
                hint="--dest-namespace a project that is not a proxy cache",
            )

    def _puller(self, rule: ReplicationRule) -> Puller:
        if not isinstance(self.replicator, Puller):
            raise Unsupported(
                f"replication rule {rule.name} pulls, but this registry was opened with a"
                " replicator that only pushes",
                hint="run it from registry serve or registry replication run",
            )
        return self.replicator

    def _local(self, by: str | None) -> LocalRegistry:
        if self.manifests is None or self.uploads is None:
            raise Unsupported(
                "this registry was opened without the services a pull stores through",
                hint="run pull rules from registry serve or registry replication run",
            )
        return LocalRegistry(self.manifests, self.uploads, self.events, by)

    # --- running
    def start(
        self,
        by: str | None,
        name: str,
        trigger: str = "manual",
        items: list[tuple[str, str, str, str, str]] | None = None,
    ) -> RunRow:
        """A run of rule ``name`` with its items planned (all the rule selects, or
        ``items``), not yet executed (:meth:`execute`)."""
        rule = self.rule(by, name)
        if self.replicator is None:
            raise Unsupported(
                "this registry was opened without a replicator",
                hint="run replication from registry serve or registry replication run",
            )
        if rule.direction == "pull":
            self._puller(rule)
            self._local(by)
        run_id = self.store.start_run(name, trigger)
        with self._guard:
            self._active.add(run_id)
        self.schedules.acquire_lease(_LEASE + str(run_id), self.holder, self.lease_ttl)
        try:
            planned = self._plan(rule) if items is None else items
            self.store.add_items(run_id, _merged(planned, self._leftovers(name, run_id)))
        except Exception as exc:
            self.store.finish_run(run_id, "failed", str(exc))
            self.schedules.release_lease(_LEASE + str(run_id), self.holder)
            raise
        row = self.store.run(run_id)
        assert row is not None
        return row

    def _expired(self, rule: str | None, exclude: int = 0) -> list[RunRow]:
        """The unfinished runs (of ``rule``) whose process stopped renewing their lease,
        each now leased to this process (so one process takes each over)."""
        # a run just started is leased a moment after its row is written: not yet taken
        before = time.time() - min(self.lease_ttl, 10.0)
        return [
            run
            for run in self.store.running(rule)
            if run.id != exclude
            and run.id not in self._active  # its lease is this process's own
            and run.started < before
            and self.schedules.acquire_lease(_LEASE + str(run.id), self.holder, self.lease_ttl)
        ]

    def _leftovers(self, rule: str, run_id: int) -> list[tuple[str, str, str, str, str]]:
        """The items interrupted runs of ``rule`` did not finish, taken into run
        ``run_id``; those runs end ``interrupted``."""
        left: list[tuple[str, str, str, str, str]] = []
        for old in self._expired(rule, exclude=run_id):
            row = self.store.run(old.id)
            assert row is not None
            left += [
                (i.kind, i.repository, i.tag, i.digest, i.destination)
                for i in row.items
                if i.status != "done"
            ]
            self._interrupted(old, f"its process stopped; run {run_id} continues it")
        return left

    def _interrupted(self, run: RunRow, why: str) -> None:
        _LOG.warning("replication run %d of %s: %s", run.id, run.rule, why)
        self.store.finish_run(run.id, "interrupted", why)
        self.schedules.release_lease(_LEASE + str(run.id), self.holder)
        self.meta.audit_add(None, "replication", "", run.rule, "interrupted", "",
                            f"run {run.id}: {why}")  # fmt: skip

    def recover(self) -> list[int]:
        """Take over the runs whose process died (their lease expired): each one's
        pending items copied in a thread of its own; the ids of the runs taken over.
        The serving registry calls this on start and then now and again."""
        if self.replicator is None:
            return []
        taken = []
        for run in self._expired(None):
            if self.store.rule(run.rule) is None:
                self._interrupted(run, "its process stopped and its rule is deleted")
                continue
            _LOG.warning("replication run %d of %s: its process stopped; taken over by %s",
                         run.id, run.rule, self.holder)  # fmt: skip
            self.meta.audit_add(None, "replication", "", run.rule, "ok", "",
                                f"run {run.id} taken over by {self.holder}")  # fmt: skip
            row = self.store.run(run.id)
            assert row is not None
            with self._guard:
                self._active.add(run.id)
            self.execute_later(OPERATOR, row)
            taken.append(run.id)
        return taken

    def run(
        self,
        by: str | None,
        name: str,
        trigger: str = "manual",
        items: list[tuple[str, str, str, str, str]] | None = None,
    ) -> RunRow:
        """Run rule ``name`` now; the finished run."""
        return self.execute(by, self.start(by, name, trigger, items))

    def execute(self, by: str | None, run: RunRow) -> RunRow:
        """Copy ``run``'s pending items (one run of a rule at a time in this process);
        the finished run."""
        try:
            rule = self.rule(by, run.rule)
        except NotFound:  # deleted since the run was planned
            self.store.finish_run(run.id, "failed", f"replication rule {run.rule} was deleted")
            self.schedules.release_lease(_LEASE + str(run.id), self.holder)
            with self._guard:
                self._active.discard(run.id)
            raise
        with self._guard:
            lock = self._busy.setdefault(rule.name, threading.Lock())
        local = self._local(by) if rule.direction == "pull" else None
        with lock, _Heartbeat(self, _LEASE + str(run.id)) as beat:
            try:
                for item in run.items:
                    if beat.lost.is_set():  # another process took the run over
                        _LOG.warning("replication run %d: lease lost, left to its new holder",
                                     run.id)  # fmt: skip
                        final = self.store.run(run.id)
                        assert final is not None
                        return final
                    if item.status == "pending":
                        self._item(rule, local, item.id, item.kind, item.repository,
                                   item.tag, item.digest, item.destination)  # fmt: skip
                done = self.store.run(run.id)
                assert done is not None
                failed = [i for i in done.items if i.status == "failed"]
                error = f"{len(failed)} of {len(done.items)} items failed" if failed else ""
                self.store.finish_run(run.id, "failed" if failed else "done", error)
            except Exception as exc:
                self.store.finish_run(run.id, "failed", str(exc))
                raise
            finally:
                with self._guard:
                    self._active.discard(run.id)
                final = self.store.run(run.id)
                assert final is not None
                if final.status != "running":
                    self._report(rule, final, by)
        self.meta.audit_add(
            _who(by), "replication", "", rule.name, final.status, "",
            f"run {run.id} ({run.trigger}): {len(final.items)} items, {final.status}",
        )  # fmt: skip
        return final

    def execute_later(self, by: str | None, run: RunRow) -> None:
        """:meth:`execute` in a thread of its own."""
        threading.Thread(
            target=self._background, args=(by, run), daemon=True, name=f"replication-{run.id}"
        ).start()

    def _background(self, by: str | None, run: RunRow) -> None:
        try:
            self.execute(by, run)
        except Exception as exc:  # recorded in the run's row; a thread: log
            _LOG.warning("replication run %d of %s failed: %s", run.id, run.rule, exc)

    def _copy(
        self, rule: ReplicationRule, local: LocalRegistry | None, kind: str, repo: str,
        tag: str, digest: str, destination: str,
    ) -> Transfer:  # fmt: skip
        """One item: pushed to (or deleted at) the endpoint; pulling, fetched into
        (or deleted from) this registry."""
        assert self.replicator is not None
        if local is None:
            if kind == "delete":
                self.replicator.delete(rule.endpoint, destination, tag)
                return Transfer()
            return self.replicator.push(
                repo, Digest(digest), tag, rule.endpoint, destination, rule.bandwidth
            )
        if kind == "delete":
            local.delete_tag(destination, tag)
            return Transfer()
        return self._puller(rule).pull(
            rule.endpoint, repo, Digest(digest), tag, local, destination, rule.bandwidth
        )

    def _item(
        self, rule: ReplicationRule, local: LocalRegistry | None, item: int, kind: str,
        repo: str, tag: str, digest: str, destination: str,
    ) -> None:  # fmt: skip
        error = ""
        for attempt in range(1, self.attempts + 1):
            try:
                sent = self._copy(rule, local, kind, repo, tag, digest, destination)
            except Exception as exc:  # any failure of one item: kept, retried, reported
                error = exc.message if isinstance(exc, ImageforgeError) else f"{exc!r}"
                _LOG.info("replication %s: %s:%s attempt %d failed: %s",
                          rule.name, repo, tag, attempt, error)  # fmt: skip
                self.store.record_item(item, "pending", 0, 0, attempt, error)
                if attempt < self.attempts:
                    time.sleep(self.retry_base * 2 ** (attempt - 1))
                continue
            self.store.record_item(item, "done", sent.bytes, sent.blobs, attempt, "")
            return
        self.store.record_item(item, "failed", 0, 0, self.attempts, error)

    def _report(self, rule: ReplicationRule, run: RunRow, by: str | None) -> None:
        """One ``replication`` event per project the run touched (webhooks are a
        project's), with the run's summary and its failures."""

        def here(i: ItemRow) -> str:  # the repository of this registry the item is about
            return i.destination if rule.direction == "pull" else i.repository

        projects = sorted({project_of(here(i)) for i in run.items})
        summary = run.to_json(items=False)
        for project in projects:
            mine = [i for i in run.items if project_of(here(i)) == project]
            failed = [i for i in mine if i.status == "failed"]
            data = {
                "replication": {
                    **summary,
                    "endpoint": rule.endpoint.url,
                    "failures": [
                        {"repository": i.repository, "tag": i.tag, "error": i.error} for i in failed
                    ],
                }
            }
            resources = [Resource(i.digest, i.tag) for i in failed]
            try:
                self.events.emit(Event("replication", project, _who(by), "", resources, data))
            except Exception as exc:  # the run happened: log, do not fail it
                _LOG.warning("replication event of run %d not emitted: %s", run.id, exc)

    # --- triggers
    def scheduled(self, name: str) -> None:
        """The scheduler's entry: run ``replication:<rule>`` (its rule deleted or
        disabled since: its schedule goes). A rule that cannot be read (its password
        sealed with another secret key) is a failed run the history shows."""
        try:
            rule = self.store.rule(name.removeprefix(SCHEDULE_PREFIX))
        except ImageforgeError as exc:
            run_id = self.store.start_run(name.removeprefix(SCHEDULE_PREFIX), "cron")
            self.store.finish_run(run_id, "failed", str(exc))
            raise
        if rule is None or not rule.enabled or rule.trigger != "cron":
            self.schedules.set_schedule(name, None)
            return
        self.run(OPERATOR, rule.name, trigger="cron")

    def emit(self, event: Event) -> None:
        """Pushes and deletes start the on-push rules that select them, each in a
        thread of its own (a sink must be quick)."""
        if event.type not in ("push", "delete") or self.replicator is None:
            return
        for rule in self.store.rules():
            if not (rule.enabled and rule.trigger == "on_push"):
                continue
            if event.type == "delete" and not rule.mirror_deletions:
                continue
            items = self._event_items(rule, event)
            if items:
                self.execute_later(OPERATOR, self.start(OPERATOR, rule.name, "on_push", items))

    def _event_items(
        self, rule: ReplicationRule, event: Event
    ) -> list[tuple[str, str, str, str, str]]:
        repo = event.repository
        if not rule.selects_repository(repo):
            return []
        dest = rule.destination(repo)
        items = []
        for res in event.resources:
            tag = res.tag
            if event.type == "delete":
                if tag and rule.selects_tag(tag):
                    items.append(("delete", repo, tag, res.digest, dest))
                continue
            if tag is None:
                continue
            m = _ATTACHED_TAG.fullmatch(tag)
            if m:  # a signature arrived later: the tags of what it signs go again
                subject = Digest("sha256:" + tag[7:71])
                tags = [t for t in self.meta.tags_of(repo, subject) if rule.selects_tag(t)]
                items += [("copy", repo, t, str(subject), dest) for t in tags]
            elif rule.selects_tag(tag):
                items.append(("copy", repo, tag, res.digest, dest))
        return items


class _Heartbeat:
    """Holds a run's lease while it runs: renewed every third of its time to live in a
    thread; ``lost`` is set when another process holds it now; released at the end."""

    def __init__(self, replication: Replication, name: str) -> None:
        self.r = replication
        self.name = name
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True, name=f"lease-{name}")

    def __enter__(self) -> _Heartbeat:
        self._renew()
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
        if not self.lost.is_set():
            self.r.schedules.release_lease(self.name, self.r.holder)

    def _renew(self) -> None:
        try:
            if not self.r.schedules.acquire_lease(self.name, self.r.holder, self.r.lease_ttl):
                self.lost.set()
        except Exception as exc:  # the database away for a moment: the next beat retries
            _LOG.warning("renewing %s failed: %s", self.name, exc)

    def _beat(self) -> None:
        while not self._stop.wait(self.r.lease_ttl / 3) and not self.lost.is_set():
            self._renew()


def _merged(
    planned: list[tuple[str, str, str, str, str]], left: list[tuple[str, str, str, str, str]]
) -> list[tuple[str, str, str, str, str]]:
    """``planned`` then the leftovers it does not already hold (a tag planned anew
    goes by its digest now)."""
    seen = {(k, repo, tag, dest) for k, repo, tag, _d, dest in planned}
    extra = [i for i in left if (i[0], i[1], i[2], i[4]) not in seen]
    return planned + list(dict.fromkeys(extra))


def _who(by: str | None) -> str | None:
    return "operator" if by == OPERATOR else by
