"""What ``tune`` writes: the Kubernetes ``resources:`` block, a Deployment/Pod manifest
patched with it (checked against the Kubernetes schemas with ``kubernetes-validate``
and written atomically), and the plain-text report."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Final

import yaml

from imageforge.errors import InvalidArgument, NotFound
from imageforge.tune._series import Series
from imageforge.tune._tune import TuneReport

__all__ = ["patch_manifest", "render_text", "resources_yaml"]

_WORKLOADS: Final = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "Pod")


def resources_yaml(resources: dict[str, Any]) -> str:
    return yaml.safe_dump({"resources": resources}, sort_keys=False)


def _pod_spec(doc: dict[str, Any]) -> dict[str, Any] | None:
    kind = doc.get("kind")
    if kind == "Pod":
        spec = doc.get("spec")
    elif kind in _WORKLOADS:
        spec = ((doc.get("spec") or {}).get("template") or {}).get("spec")
    elif kind == "CronJob":
        job = ((doc.get("spec") or {}).get("jobTemplate") or {}).get("spec") or {}
        spec = (job.get("template") or {}).get("spec")
    else:
        return None
    return spec if isinstance(spec, dict) else None


def _validate(doc: dict[str, Any], path: Path) -> None:
    """Against the schemas of the latest Kubernetes version kubernetes-validate has
    (imported here: it loads jsonschema, which no other command needs at start)."""
    import kubernetes_validate  # type: ignore[import-untyped]

    version = kubernetes_validate.latest_version()
    try:
        kubernetes_validate.validate(doc, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        where = ".".join(str(p) for p in exc.path)
        raise InvalidArgument(
            f"{path}: the patched {doc.get('kind')} is not valid for Kubernetes "
            f"{version}: {exc.message}" + (f" (at {where})" if where else ""),
            hint="fix the manifest; it was left as it was",
        ) from None
    except kubernetes_validate.utils.SchemaNotFoundError as exc:
        raise InvalidArgument(f"{path}: no Kubernetes schema for {exc}") from None


def patch_manifest(path: Path, resources: dict[str, Any], container: str | None = None) -> str:
    """Set ``resources`` on ``container`` (by name; the only or first one when None) of
    the first workload in the YAML file at ``path``, validate the result, write it back
    atomically; the container's name."""
    try:
        docs = list(yaml.safe_load_all(path.read_text()))
    except FileNotFoundError:
        raise NotFound(f"--patch {path}: no such file") from None
    except yaml.YAMLError as exc:
        raise InvalidArgument(f"--patch {path}: not YAML: {exc}") from None
    for doc in docs:
        spec = _pod_spec(doc) if isinstance(doc, dict) else None
        if spec is None:
            continue
        containers = spec.get("containers") or []
        names = [c.get("name") for c in containers if isinstance(c, dict)]
        if container is None and containers:
            target = containers[0]
        else:
            target = next((c for c in containers if c.get("name") == container), None)
        if not isinstance(target, dict):
            raise NotFound(
                f"--patch {path}: no container {container!r} in the {doc.get('kind')}",
                hint="its containers: " + ", ".join(map(str, names)),
            )
        target["resources"] = resources
        _validate(doc, path)
        text = yaml.safe_dump_all(docs, sort_keys=False)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "w") as f:
                f.write(text)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return str(target.get("name"))
    raise InvalidArgument(
        f"--patch {path}: no Deployment, StatefulSet, DaemonSet, Job, CronJob or Pod in it"
    )


def _fmt(series: Series, value: float) -> str:
    if series.unit == "bytes":
        return f"{value / (1024 * 1024):.1f}Mi"
    if series.unit == "cores":
        return f"{value * 1000:.0f}m"
    if series.unit == "share of periods":
        return f"{value:.0%}"
    return f"{value:.0f}"


def render_text(report: TuneReport) -> str:
    """The report for a person: percentiles, strategies side by side, runtime hints,
    utilisation, the verification, then the resources block."""
    lines = [
        f"tune {report.image}: {report.usage.runs} run(s), "
        f"{len(report.usage.working_set.points)} samples"
    ]
    for m in report.runs:
        load = m.load
        if load.kind == "http":
            lat = load.latency_ms or {}
            lines.append(
                f"  load: {load.requests} requests, {load.errors} failed, "
                f"{load.throughput:.1f}/s, latency p50 {lat.get('p50', 0):.1f} ms "
                f"p95 {lat.get('p95', 0):.1f} ms p99 {lat.get('p99', 0):.1f} ms"
            )
        else:
            end = "stopped at the run's end" if load.exit_code is None else "exit code 0"
            lines.append(f"  load: command ran {load.seconds:.1f}s, {end}")
    lines.append("")
    lines.append(
        f"  {'measure':<12}" + "".join(f"{k:>10}" for k in ("p50", "p90", "p95", "p99", "max"))
    )
    for s in report.usage.all:
        row = s.percentiles()
        lines.append(f"  {s.name:<12}" + "".join(f"{_fmt(s, v):>10}" for v in row.values()))
    lines.append(f"  OOM kills: {report.usage.oom_kills}")
    if report.usage.writable_layer is not None:
        lines.append(f"  writable layer grew by {report.usage.writable_layer / 1024:.0f} KiB")
    lines.append("")
    lines.append("  strategy      cpu req   cpu lim   mem req   mem lim   parameters")
    for r in report.recommendations:
        res = r.resources()
        req, lim = res["requests"], res.get("limits", {})
        params = ", ".join(f"{k}={v}" for k, v in r.parameters.items())
        lines.append(
            f"  {r.strategy:<12}{req.get('cpu', '-'):>9} {lim.get('cpu', '-'):>9}"
            f" {req.get('memory', '-'):>9} {lim.get('memory', '-'):>9}   {params}"
        )
        lines.extend(f"    note: {n}" for n in r.notes)
    for h in report.hints:
        lines.append(f"  {h.runtime}: {h.problem}; set {h.set}")
    lines.append("")
    lines.append("  utilisation (mean used / requested):")
    for name, u in report.utilisation().items():
        cpu = "-" if u["cpu"] is None else f"{u['cpu']:.0%}"
        mem = "-" if u["memory"] is None else f"{u['memory']:.0%}"
        label = "guide's 250m/256Mi" if name == "guide-example" else name
        lines.append(f"    {label:<20} cpu {cpu:>6}  memory {mem:>6}")
    v = report.verification
    if v is not None:
        lines.append("")
        lines.append(f"  verify under {v.limits}: {'passed' if v.ok else 'FAILED'}")
        lines.extend(f"    {'ok  ' if ok else 'FAIL'} {n}: {d}" for n, ok, d in v.checks)
    lines.append("")
    lines.append(f"# {report.chosen}")
    lines.append(resources_yaml(report.recommendation.resources()).rstrip())
    return "\n".join(lines) + "\n"
