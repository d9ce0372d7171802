"""``imageforge registry deploy-manifests``: Kubernetes manifests for registry replicas
over external PostgreSQL and S3, to stdout or a directory (see docs/deploy.md)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from imageforge.cli._registry import registry_app
from imageforge.registry.deploy import SECRET_KEYS, DeployOptions, render_manifests, to_yaml
from imageforge.store import atomic_write


@registry_app.command("deploy-manifests")
@click.option("--image", required=True, help="The registry image (one with imageforge in it).")
@click.option(
    "--storage",
    required=True,
    metavar="URL",
    help="Blobs and uploads in S3, s3://BUCKET/PREFIX?endpoint=URL (credentials: the Secret).",
)
@click.option(
    "--meta",
    required=True,
    metavar="URL",
    help="The shared metadata database, postgresql://USER@HOST[:PORT]/DB, without its"
    " password (the Secret's postgresql-password key).",
)
@click.option("--replicas", type=int, default=2, show_default=True, help="Replicas, at least.")
@click.option(
    "--max-replicas", type=int, help="The autoscaler's ceiling (default: 3 x --replicas)."
)
@click.option("--namespace", default="default", show_default=True)
@click.option("--name", default="imageforge-registry", show_default=True)
@click.option(
    "--secret",
    metavar="NAME",
    help="The Secret the pods read their credentials and token key from (default: NAME-secrets).",
)
@click.option("--storage-redirect", is_flag=True, help="Redirect blob GETs to presigned S3 URLs.")
@click.option(
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write one file per object here (KIND.yaml) instead of one stream to stdout.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["yaml", "text", "json"]),
    default="yaml",
    show_default=True,
    help="yaml (text is the same) or json: a v1 List of the objects, as kubectl -o json "
    "prints (one object per KIND.json file with --output-dir).",
)
def deploy_manifests_cmd(
    image: str,
    storage: str,
    meta: str,
    replicas: int,
    max_replicas: int | None,
    namespace: str,
    name: str,
    secret: str | None,
    storage_redirect: bool,
    output_dir: Path | None,
    fmt: str,
) -> None:
    """Kubernetes manifests for registry replicas on PostgreSQL and S3.

    The Deployment (readiness and liveness probes), Service, PodDisruptionBudget,
    HorizontalPodAutoscaler and ConfigMap (registry.toml) of stateless replicas, as YAML.
    No secret value is written: the pods read one Secret with the keys
    postgresql-password, s3-access-key-id, s3-secret-access-key, admin-password and
    token-key, which you create (docs/deploy.md)."""
    opts = DeployOptions(
        image=image,
        storage=storage,
        meta=meta,
        replicas=replicas,
        max_replicas=max_replicas,
        namespace=namespace,
        name=name,
        secret=secret,
        storage_redirect=storage_redirect,
    )
    objects = render_manifests(opts)
    secret_name = secret or f"{name}-secrets"
    as_json = fmt == "json"
    if output_dir is None:
        if as_json:
            listed = {"apiVersion": "v1", "kind": "List", "items": objects}
            click.echo(json.dumps(listed, indent=2))
        else:
            click.echo(to_yaml(objects), nl=False)
    else:
        output_dir.mkdir(parents=True, exist_ok=True)
        for obj in objects:
            kind = str(obj["kind"]).lower()
            path = output_dir / f"{kind}.{'json' if as_json else 'yaml'}"
            text = json.dumps(obj, indent=2) + "\n" if as_json else to_yaml([obj])
            atomic_write(path, text.encode())
            click.echo(f"wrote {path}", err=True)
    click.echo(
        f"the pods read Secret {secret_name} in namespace {namespace}, keys: "
        + ", ".join(SECRET_KEYS),
        err=True,
    )
