"""Retention (Harbor's tag retention): per-project rules that say which artifacts to
keep, a dry run that lists what a real run deletes, real runs followed by garbage
collection, the runs' log, pull times noted cheaply, and the schedule (cron) on which
the server runs retention and garbage collection, one server at a time."""

from imageforge.registry.retention._rules import (
    KEEP_KINDS,
    Artifact,
    RetentionPolicy,
    Rule,
    Verdict,
    evaluate,
    policy_from_json,
)
from imageforge.registry.retention._run import Retention, check_cron, next_time
from imageforge.registry.retention._schedule import GC_SCHEDULE, UPLOAD_SWEEP, Scheduler
from imageforge.registry.retention._store import RetentionStore, RunRow

__all__ = [
    "GC_SCHEDULE",
    "KEEP_KINDS",
    "Artifact",
    "Retention",
    "RetentionPolicy",
    "RetentionStore",
    "Rule",
    "RunRow",
    "Scheduler",
    "UPLOAD_SWEEP",
    "Verdict",
    "check_cron",
    "evaluate",
    "next_time",
    "policy_from_json",
]
