"""Kubernetes manifests for replicated ``registry serve`` (``imageforge registry
deploy-manifests``): stateless replicas over external PostgreSQL and S3."""

from imageforge.registry.deploy._manifests import (
    SECRET_KEYS,
    DeployOptions,
    render_manifests,
    to_yaml,
)

__all__ = ["SECRET_KEYS", "DeployOptions", "render_manifests", "to_yaml"]
