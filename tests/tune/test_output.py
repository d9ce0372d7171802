"""--patch on real manifests, validated against the Kubernetes schemas; runtime hints on
image configs and a real Go binary."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from imageforge.errors import InvalidArgument, NotFound
from imageforge.runtime import find_static_busybox
from imageforge.tune import detect_runtimes, patch_manifest, runtime_hints
from tests.conftest import need_binary

RESOURCES = {"requests": {"cpu": "120m", "memory": "100Mi"}, "limits": {"memory": "100Mi"}}
DEPLOYMENT = """\
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  ports: [{port: 80}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: sidecar
          image: busybox
        - name: web
          image: python-web:1
"""


def test_patch_sets_the_named_containers_resources_and_keeps_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "deploy.yaml"
    path.write_text(DEPLOYMENT)
    assert patch_manifest(path, RESOURCES, "web") == "web"
    service, deployment = yaml.safe_load_all(path.read_text())
    assert service["kind"] == "Service"
    sidecar, web = deployment["spec"]["template"]["spec"]["containers"]
    assert web["resources"] == RESOURCES and "resources" not in sidecar
    # without a name: the first container
    assert patch_manifest(path, RESOURCES) == "sidecar"


def test_a_patch_that_makes_an_invalid_manifest_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "pod.yaml"
    bad = (
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n"
        "    - name: c\n      image: x\n      ports: [{containerPort: notaport}]\n"
    )
    path.write_text(bad)
    with pytest.raises(InvalidArgument, match="not valid for Kubernetes"):
        patch_manifest(path, RESOURCES)
    assert path.read_text() == bad
    with pytest.raises(NotFound, match="no container 'web'"):
        patch_manifest(tmp_path / "pod.yaml", RESOURCES, "web")
    path.write_text("kind: ConfigMap\napiVersion: v1\nmetadata: {name: c}\n")
    with pytest.raises(InvalidArgument, match="no Deployment"):
        patch_manifest(path, RESOURCES)


def test_runtime_hints_name_the_flag_to_set(tmp_path: Path) -> None:
    java = {"Entrypoint": ["java", "-jar", "/app.jar"], "Env": ["JAVA_HOME=/opt/java"]}
    (hint,) = runtime_hints(java, frozenset(), 512 * 1024 * 1024)
    assert hint.runtime == "jvm" and hint.set == "JAVA_TOOL_OPTIONS=-XX:MaxRAMPercentage=75.0"
    bounded = {**java, "Env": ["JAVA_TOOL_OPTIONS=-XX:MaxRAMPercentage=60"]}
    assert runtime_hints(bounded, frozenset(), None) == []
    node = {"Cmd": ["node", "server.js"], "Env": ["NODE_VERSION=20.1.0"]}
    (hint,) = runtime_hints(node, frozenset(), 512 * 1024 * 1024)
    assert hint.set == "NODE_OPTIONS=--max-old-space-size=384"
    # a real Go binary (runc is written in Go) as the entrypoint
    rootfs = tmp_path / "rootfs"
    (rootfs / "usr" / "bin").mkdir(parents=True)
    shutil.copy(need_binary("runc"), rootfs / "usr" / "bin" / "service")
    go = {"Entrypoint": ["service"], "Env": ["PATH=/usr/bin"]}
    assert detect_runtimes(go, rootfs) == {"go"}
    (hint,) = runtime_hints(go, frozenset({"go"}), 100 * 1024 * 1024)
    assert hint.set == "GOMEMLIMIT=90MiB"
    assert runtime_hints({**go, "Env": ["GOMEMLIMIT=80MiB"]}, frozenset({"go"}), None) == []
    busybox = find_static_busybox()  # C, not Go
    assert busybox is not None
    shutil.copy(busybox, rootfs / "usr" / "bin" / "service")
    assert detect_runtimes(go, rootfs) == frozenset()
