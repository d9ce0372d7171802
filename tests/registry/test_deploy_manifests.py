"""``imageforge registry deploy-manifests``: Kubernetes manifests for stateless replicas
on external PostgreSQL and S3. No cluster is available here, so the objects are
validated against the Kubernetes OpenAPI schemas (kubernetes-validate, strict) for the
versions below, and their configuration and probes are run for real: the rendered
ConfigMap's registry.toml, with the Secret's variables, serves on PostgreSQL and
SeaweedFS, answers the probes without credentials, and turns unready when its bucket
goes away."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import click
import httpx
import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from imageforge.cli._registry import serve_cmd
from imageforge.errors import InvalidArgument
from imageforge.registry import load_config
from imageforge.registry.deploy import SECRET_KEYS, DeployOptions, render_manifests
from tests.conftest import run_cli
from tests.registry.conftest import PgCluster, Server, make_server
from tests.registry.seaweedfs import SeaweedFS, s3_env

# The oldest Kubernetes release still commonly run, and a current one.
VERSIONS = ["1.29.0", "1.32.0"]
STORAGE = "s3://registry-blobs/prod?endpoint=http://s3.storage.svc:8333"
META = "postgresql://registry@postgres.db.svc:5432/registry"
BASE_ARGS = ["registry", "deploy-manifests", "--image", "registry.example.com/imageforge:1"]


def _render(*args: str) -> subprocess.CompletedProcess[str]:
    return run_cli([*BASE_ARGS, "--storage", STORAGE, "--meta", META, *args])


def _objects(*args: str) -> dict[str, dict[str, Any]]:
    proc = _render(*args)
    assert proc.returncode == 0, proc.stderr
    return {obj["kind"]: obj for obj in yaml.safe_load_all(proc.stdout)}


@pytest.fixture(scope="module")
def objects() -> dict[str, dict[str, Any]]:
    return _objects("--replicas", "3", "--namespace", "registry")


@pytest.mark.parametrize("version", VERSIONS)
def test_every_object_is_valid_kubernetes(objects: dict[str, dict[str, Any]], version: str) -> None:
    assert set(objects) == {
        "ConfigMap",
        "Deployment",
        "Service",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
    }
    for obj in objects.values():
        kubernetes_validate.validate(obj, version, strict=True)
        assert obj["metadata"]["namespace"] == "registry"


def test_the_objects_fit_together(objects: dict[str, dict[str, Any]]) -> None:
    deployment = objects["Deployment"]
    pod = deployment["spec"]["template"]
    labels = pod["metadata"]["labels"]
    assert deployment["spec"]["replicas"] == 3
    assert deployment["spec"]["selector"]["matchLabels"] == labels
    assert objects["Service"]["spec"]["selector"] == labels
    assert objects["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"] == labels
    hpa = objects["HorizontalPodAutoscaler"]["spec"]
    assert hpa["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (3, 9)
    (container,) = pod["spec"]["containers"]
    (port,) = container["ports"]
    assert objects["Service"]["spec"]["ports"][0]["targetPort"] == port["name"]
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": port["name"]}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": port["name"]}
    assert f"0.0.0.0:{port['containerPort']}" in container["args"]
    config = next(v for v in pod["spec"]["volumes"] if v["name"] == "config")
    assert config["configMap"]["name"] == objects["ConfigMap"]["metadata"]["name"]


def test_secrets_are_references_never_values(objects: dict[str, dict[str, Any]]) -> None:
    pod = objects["Deployment"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    secret = "imageforge-registry-secrets"
    for env in container["env"]:
        assert env["valueFrom"]["secretKeyRef"]["name"] == secret, env
    names = {env["name"] for env in container["env"]}
    assert names == {"PGPASSWORD", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} | {
        "IMAGEFORGE_ADMIN_PASSWORD"
    }
    # every replica signs and verifies tokens, and seals and opens stored passwords,
    # with the keys of the one Secret (its own key in its emptyDir would open nothing
    # another replica sealed)
    args = container["args"]
    for option, key in [("--token-key-file", "token-key"), ("--secret-key-file", "secret-key")]:
        key_file = Path(args[args.index(option) + 1])
        mount = next(
            m for m in container["volumeMounts"] if key_file.is_relative_to(m["mountPath"])
        )
        volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
        assert volume["secret"]["secretName"] == secret
        paths = {i["path"]: i["key"] for i in volume["secret"]["items"]}
        assert paths[str(key_file.relative_to(mount["mountPath"]))] == key, option
    assert not any(o["kind"] == "Secret" for o in objects.values())
    security = container["securityContext"]
    assert security["runAsNonRoot"] and security["readOnlyRootFilesystem"]
    assert security["capabilities"] == {"drop": ["ALL"]}


def test_the_container_runs_registry_serve_with_its_own_options(
    objects: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    (container,) = objects["Deployment"]["spec"]["template"]["spec"]["containers"]
    args = container["args"]
    assert args[args.index("registry") : args.index("serve") + 1] == ["registry", "serve"]
    known = {opt for p in serve_cmd.params if isinstance(p, click.Option) for opt in p.opts}
    used = {a for a in args[args.index("serve") + 1 :] if a.startswith("--")}
    # --token-key-file comes with the shared token key (issue #30, replicas: another
    # branch); every other option is one registry serve has now
    assert used - known <= {"--token-key-file"}
    toml = tmp_path / "registry.toml"
    toml.write_text(objects["ConfigMap"]["data"]["registry.toml"])
    config = load_config(toml, tmp_path / "data")
    assert (config.db, config.storage, config.storage_redirect) == (META, STORAGE, False)


def test_a_directory_gets_one_file_per_object(tmp_path: Path) -> None:
    out = tmp_path / "manifests"
    proc = _render("--output-dir", str(out))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    files = {p.name: yaml.safe_load(p.read_text()) for p in out.iterdir()}
    rendered = render_manifests(DeployOptions("registry.example.com/imageforge:1", STORAGE, META))
    assert files == {f"{obj['kind'].lower()}.yaml": obj for obj in rendered}
    assert "keys: " + ", ".join(SECRET_KEYS) in proc.stderr


def test_json_is_a_kubernetes_list_of_the_same_objects(tmp_path: Path) -> None:
    proc = _render("--format", "json")
    assert proc.returncode == 0, proc.stderr
    listed = json.loads(proc.stdout)
    assert (listed["apiVersion"], listed["kind"]) == ("v1", "List")
    yaml_objects = list(yaml.safe_load_all(_render().stdout))
    assert listed["items"] == yaml_objects
    out = tmp_path / "json"
    assert _render("--format", "json", "--output-dir", str(out)).returncode == 0
    files = {p.name: json.loads(p.read_text()) for p in out.iterdir()}
    assert files == {f"{obj['kind'].lower()}.json": obj for obj in yaml_objects}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"meta": "postgresql://registry:hunter2@pg/registry"},
            "--meta must not carry a password: it would be written into the ConfigMap",
        ),
        ({"meta": "sqlite:///meta.db"}, "is not a postgresql:// URL with a host"),
        ({"storage": "/var/lib/registry"}, "is not an s3:// URL with a bucket"),
        ({"storage": "s3://k:s@bucket/p"}, "storage URL must not carry credentials"),
        ({"namespace": "Prod_1"}, "--namespace 'Prod_1' is not a Kubernetes name"),
        ({"replicas": 0}, "--replicas 0: at least 1"),
        ({"replicas": 4, "max_replicas": 2}, "--max-replicas 2 is below --replicas 4"),
        ({"image": "two words"}, "--image 'two words' is not an image reference"),
    ],
)
def test_bad_options_are_refused_clearly(change: dict[str, Any], message: str) -> None:
    opts = DeployOptions(**{"image": "r.example/i:1", "storage": STORAGE, "meta": META, **change})
    with pytest.raises(InvalidArgument) as info:
        render_manifests(opts)
    assert message in str(info.value)
    assert "hunter2" not in str(info.value)


def test_the_command_refuses_a_password_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = run_cli(
        [*BASE_ARGS, "--storage", STORAGE, "--meta", "postgresql://registry:hunter2@pg/r"]
        + ["--output-dir", str(out)]
    )
    assert proc.returncode == 2, proc.stderr
    assert "--meta must not carry a password" in proc.stderr
    assert "hint: give postgresql://USER@HOST/DB" in proc.stderr
    assert "hunter2" not in proc.stdout + proc.stderr
    assert not out.exists()


@pytest.mark.slow
def test_the_rendered_configuration_serves_and_answers_the_probes(
    tmp_path: Path, postgres: PgCluster, seaweedfs: SeaweedFS
) -> None:
    bucket = seaweedfs.new_bucket()
    storage = f"s3://{bucket}/registry?endpoint={seaweedfs.endpoint}"
    meta = postgres.new_database()
    proc = run_cli([*BASE_ARGS, "--storage", storage, "--meta", meta])
    assert proc.returncode == 0, proc.stderr
    objects = {obj["kind"]: obj for obj in yaml.safe_load_all(proc.stdout)}
    # the pod's environment: the Secret's keys (trust authentication ignores the password)
    env = {**s3_env(seaweedfs), "PGPASSWORD": "unused"}
    server: Server = make_server(
        tmp_path / "registry", objects["ConfigMap"]["data"]["registry.toml"], env=env
    )
    server.db = meta
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as anonymous:
            assert anonymous.get("/v2/").status_code == 401  # the probes need no credentials
            assert anonymous.get("/healthz").json() == {"status": "ok"}
            assert anonymous.get("/readyz").json() == {"status": "ok"}
            assert anonymous.head("/readyz").status_code == 200

            client = seaweedfs.client()
            for obj in client.list_objects_v2(Bucket=bucket).get("Contents", []):
                client.delete_object(Bucket=bucket, Key=obj["Key"])
            client.delete_bucket(Bucket=bucket)
            ready = anonymous.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["check"] == "storage"
            assert bucket in ready.json()["error"]
            assert anonymous.get("/healthz").status_code == 200  # alive: not restarted
    finally:
        server.stop()
