"""Render the Kubernetes objects of a replicated registry from a few options.

The replicas are stateless (issue #30): blobs and upload sessions in S3, metadata in
PostgreSQL, tokens signed and stored passwords sealed with keys every replica reads. So
the objects are a Deployment (probes on ``/readyz`` and ``/healthz``), a Service, a
PodDisruptionBudget, a HorizontalPodAutoscaler and a ConfigMap holding
``registry.toml``. Nothing secret is ever written into them: the PostgreSQL password,
the S3 credentials, the token and secret keys and the first admin password are
*references* to keys of one Secret the operator creates (see ``SECRET_KEYS`` and
docs/deploy.md), so the output can be committed to a repository."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import yaml

from imageforge.errors import InvalidArgument
from imageforge.registry.storage import S3Location

__all__ = ["CONFIG_DIR", "PORT", "SECRET_KEYS", "DeployOptions", "render_manifests", "to_yaml"]

PORT = 5000
CONFIG_DIR = "/etc/imageforge"
KEYS_DIR = "/etc/imageforge/keys"  # the Secret's two key files
DATA_DIR = "/var/lib/imageforge"
# The Secret's keys and the environment variable (or file) each one becomes.
SECRET_KEYS = {
    "postgresql-password": "PGPASSWORD",  # libpq's: the DSN in the ConfigMap has no password
    "s3-access-key-id": "AWS_ACCESS_KEY_ID",
    "s3-secret-access-key": "AWS_SECRET_ACCESS_KEY",
    "admin-password": "IMAGEFORGE_ADMIN_PASSWORD",  # the first start's admin user
    "token-key": f"{KEYS_DIR}/token-key",  # a file: registry serve --token-key-file
    # a file: registry serve --secret-key-file (replication passwords one replica seals,
    # another opens)
    "secret-key": f"{KEYS_DIR}/secret-key",
}
_KEY_FILES = ("token-key", "secret-key")
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")  # an RFC 1123 label
_RUN_AS = 10001  # no root needed to serve; emptyDir and the Secret readable through fsGroup


@dataclass(frozen=True)
class DeployOptions:
    image: str
    storage: str  # s3://BUCKET/PREFIX?endpoint=URL
    meta: str  # postgresql://USER@HOST[:PORT]/DB, no password
    replicas: int = 2
    max_replicas: int | None = None  # None: three times --replicas
    namespace: str = "default"
    name: str = "imageforge-registry"
    secret: str | None = None  # None: NAME-secrets
    storage_redirect: bool = False
    cpu: str = "250m"
    memory: str = "256Mi"
    memory_limit: str = "1Gi"


def _check(opts: DeployOptions) -> None:
    for flag, value in (("--namespace", opts.namespace), ("--name", opts.name)):
        if not _NAME.match(value) or len(value) > 63:
            raise InvalidArgument(
                f"{flag} {value!r} is not a Kubernetes name",
                hint="lower-case letters, digits and '-', at most 63, starting and ending "
                "with a letter or digit",
            )
    if opts.secret is not None and not _NAME.match(opts.secret):
        raise InvalidArgument(f"--secret {opts.secret!r} is not a Kubernetes name")
    if opts.replicas < 1:
        raise InvalidArgument(f"--replicas {opts.replicas}: at least 1")
    if opts.max_replicas is not None and opts.max_replicas < opts.replicas:
        raise InvalidArgument(
            f"--max-replicas {opts.max_replicas} is below --replicas {opts.replicas}"
        )
    if not opts.image.strip() or any(c.isspace() for c in opts.image):
        raise InvalidArgument(f"--image {opts.image!r} is not an image reference")
    S3Location.parse(opts.storage)  # the registry's own check, with its messages
    meta = urlsplit(opts.meta)
    if meta.scheme not in ("postgresql", "postgres") or not meta.hostname:
        raise InvalidArgument(
            f"--meta {opts.meta!r} is not a postgresql:// URL with a host",
            hint="replicas share one PostgreSQL: postgresql://USER@HOST:5432/DB",
        )
    if meta.password is not None:
        raise InvalidArgument(
            "--meta must not carry a password: it would be written into the ConfigMap",
            hint="give postgresql://USER@HOST/DB and put the password in the Secret's "
            "postgresql-password key",
        )


def _registry_toml(opts: DeployOptions) -> str:
    # json.dumps quotes a string as TOML's basic strings want it
    lines = [
        "[registry]",
        f"db = {json.dumps(opts.meta)}",
        f"storage = {json.dumps(opts.storage)}",
        f"storage_redirect = {'true' if opts.storage_redirect else 'false'}",
    ]
    return "\n".join(lines) + "\n"


def _secret_env(secret: str) -> list[dict[str, Any]]:
    return [
        {"name": env, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}
        for key, env in SECRET_KEYS.items()
        if not env.startswith("/")
    ]


def _probe(path: str, period: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": "http"},
        "periodSeconds": period,
        "timeoutSeconds": 5,
        "failureThreshold": failures,
    }


def render_manifests(opts: DeployOptions) -> list[dict[str, Any]]:
    """ConfigMap, Deployment, Service, PodDisruptionBudget and HorizontalPodAutoscaler, in
    the order ``kubectl apply`` wants them (the ConfigMap before the pods that mount it)."""
    _check(opts)
    name, namespace = opts.name, opts.namespace
    secret = opts.secret or f"{name}-secrets"
    labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/component": "registry"}
    meta = {"name": name, "namespace": namespace, "labels": labels}
    config = _registry_toml(opts)
    # Pods roll when the configuration changes (a ConfigMap edit alone restarts nothing).
    config_hash = hashlib.sha256(config.encode()).hexdigest()[:16]
    container: dict[str, Any] = {
        "name": "registry",
        "image": opts.image,
        "command": ["imageforge"],
        "args": [
            "--root",
            f"{DATA_DIR}/store",
            "registry",
            "serve",
            "--addr",
            f"0.0.0.0:{PORT}",
            "--config",
            f"{CONFIG_DIR}/registry.toml",
            "--data-dir",
            f"{DATA_DIR}/registry",
            "--token-key-file",
            SECRET_KEYS["token-key"],
            "--secret-key-file",
            SECRET_KEYS["secret-key"],
        ],
        "ports": [{"name": "http", "containerPort": PORT, "protocol": "TCP"}],
        "env": _secret_env(secret),
        # Not ready (taken out of the Service) while the database or S3 is unreachable;
        # restarted only when the process stops answering at all.
        "readinessProbe": _probe("/readyz", 5, 3),
        "livenessProbe": _probe("/healthz", 10, 6),
        "startupProbe": _probe("/healthz", 2, 60),
        "resources": {
            "requests": {"cpu": opts.cpu, "memory": opts.memory},
            "limits": {"memory": opts.memory_limit},
        },
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": _RUN_AS,
            "runAsGroup": _RUN_AS,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumeMounts": [
            {
                "name": "config",
                "mountPath": CONFIG_DIR + "/registry.toml",
                "subPath": "registry.toml",
                "readOnly": True,
            },
            {"name": "keys", "mountPath": KEYS_DIR, "readOnly": True},
            {"name": "data", "mountPath": DATA_DIR},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }
    selector = {"matchLabels": labels}
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "replicas": opts.replicas,
            "selector": selector,
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
            },
            "template": {
                "metadata": {
                    "labels": labels,
                    "annotations": {"imageforge.dev/config-sha256": config_hash},
                },
                "spec": {
                    "automountServiceAccountToken": False,
                    "securityContext": {"fsGroup": _RUN_AS},
                    "terminationGracePeriodSeconds": 30,
                    "topologySpreadConstraints": [
                        {
                            "maxSkew": 1,
                            "topologyKey": "kubernetes.io/hostname",
                            "whenUnsatisfiable": "ScheduleAnyway",
                            "labelSelector": selector,
                        }
                    ],
                    "containers": [container],
                    "volumes": [
                        {"name": "config", "configMap": {"name": name}},
                        {
                            "name": "keys",
                            "secret": {
                                "secretName": secret,
                                "items": [{"key": k, "path": k} for k in _KEY_FILES],
                                "defaultMode": 0o440,
                            },
                        },
                        {"name": "data", "emptyDir": {}},
                        {"name": "tmp", "emptyDir": {}},
                    ],
                },
            },
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta,
        "spec": {
            "type": "ClusterIP",
            "selector": labels,
            "ports": [{"name": "http", "port": PORT, "targetPort": "http", "protocol": "TCP"}],
        },
    }
    pdb = {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": meta,
        "spec": {"maxUnavailable": 1, "selector": selector},
    }
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": meta,
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": opts.replicas,
            "maxReplicas": opts.max_replicas or 3 * opts.replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 70},
                    },
                }
            ],
        },
    }
    configmap = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": meta,
        "data": {"registry.toml": config},
    }
    return [configmap, deployment, service, pdb, hpa]


class _Dumper(yaml.SafeDumper):
    """Plain YAML for people to read and review: no anchors for the objects' shared
    labels, multi-line strings (the ConfigMap's registry.toml) as literal blocks."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str)


def to_yaml(objects: list[dict[str, Any]]) -> str:
    """One YAML stream, ``---`` between the objects (what ``kubectl apply -f -`` reads)."""
    return yaml.dump_all(objects, Dumper=_Dumper, sort_keys=False)
