"""``retire --policy REGISTRY/PROJECT``: the images an imageforge registry's retention
policy for the project would delete (#22's rules: the latest N pushed or pulled, those
pushed or pulled within N days, by repository and tag globs), each retired as ``retire``
does one: archived with its referrers to an ``oci-archive:`` in a directory, then
deleted.

The registry evaluates its own rules (a dry retention run, recorded in its run history),
so what is planned here is what its scheduled run would delete; each image is archived
before it is deleted, so nothing is deleted that was not archived first."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from imageforge.errors import InvalidArgument
from imageforge.oci import Digest
from imageforge.pipeline._retire import Retired, retire
from imageforge.pipeline._session import Session

__all__ = ["PolicyRetirement", "retire_by_policy"]


@dataclass(frozen=True)
class PolicyRetirement:
    """The retention rules the registry applied, and each image retired (or, with
    ``dry_run``, that would be) with its tags."""

    project: str
    rules: tuple[str, ...]
    retained: int
    retired: tuple[tuple[Retired, tuple[str, ...]], ...]
    dry_run: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "rules": list(self.rules),
            "retained": self.retained,
            "retired": [{**r.to_json(), "tags": list(tags)} for r, tags in self.retired],
            "dryRun": self.dry_run,
        }


def archive_name(repository: str, digest: Digest) -> str:
    """The archive file of one image: its repository and digest, readable in a listing."""
    return f"{repository.replace('/', '_')}@{digest.algorithm}-{digest.hex[:16]}.tar"


def retire_by_policy(
    session: Session,
    host: str,
    project: str,
    *,
    archive_dir: Path | None,
    dry_run: bool = False,
) -> PolicyRetirement:
    """Retire what the retention policy of ``project`` at ``host`` deletes: each image
    archived under ``archive_dir`` (None: not archived) and deleted by digest."""
    response = session.client.request(
        "POST",
        host,
        f"/api/v1/projects/{quote(project)}/retention/runs",
        what=f"a dry retention run of project {project}",
        ok=(201,),
        content=b'{"dry_run": true}',
        headers={"Content-Type": "application/json"},
    )
    plan = response.json()
    rules = tuple(str(r) for r in plan.get("rules") or [])
    if not rules:
        raise InvalidArgument(
            f"project {project} at {host} has no retention rules: nothing would be retired",
            hint="set the project's rules (PUT /api/v1/projects/PROJECT/retention, or"
            " imageforge registry retention set)",
        )
    done: list[tuple[Retired, tuple[str, ...]]] = []
    for artifact in plan.get("deleted") or []:
        repo, digest = str(artifact["repository"]), Digest(str(artifact["digest"]))
        archive = archive_dir / archive_name(repo, digest) if archive_dir else None
        retired = retire(
            session, f"docker://{host}/{repo}@{digest}", archive=archive, dry_run=dry_run
        )
        done.append((retired, tuple(str(t) for t in artifact.get("tags") or [])))
    return PolicyRetirement(project, rules, int(plan.get("retained") or 0), tuple(done), dry_run)
