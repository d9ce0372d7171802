"""The secret scan of images assembled in memory: files of every layer, those a later layer
deleted or overwrote said so, the config, history and annotations, a damaged layer."""

from __future__ import annotations

import json

from imageforge.oci import Digest, History
from imageforge.secrets import scan_image
from tests.secrets.conftest import make_image
from tests.secrets.corpus import Sample, files


def _secret(planted: list[Sample], rule: str) -> Sample:
    return next(s for s in planted if s.rule == rule)


def test_files_in_every_layer_deleted_and_overwritten_ones_too(planted: list[Sample]) -> None:
    key = _secret(planted, "private-key-openssh")
    env = _secret(planted, "env-password")
    gh = _secret(planted, "github-pat")
    image = make_image(
        [
            ("COPY secrets /", {"root/.ssh/id_ed25519": key.content, "srv/app/.env": env.content}),
            ("RUN rm /root/.ssh/id_ed25519", {"root/.ssh/id_ed25519": "whiteout"}),
            ("RUN echo DEBUG=1 > /srv/app/.env", {"srv/app/.env": b"DEBUG=1\n"}),
            ("COPY run.sh /srv/run.sh", {"srv/run.sh": f"GH={gh.secret}\n".encode()}),
        ]
    )

    result = scan_image(image, target="app:1")

    by_rule = {f.rule_id: f for f in result.findings}
    assert set(by_rule) == {"private-key-openssh", "env-password", "github-pat"}
    ssh = by_rule["private-key-openssh"]
    assert (ssh.path, ssh.line, ssh.layer.number if ssh.layer else 0) == (
        "/root/.ssh/id_ed25519",
        1,
        1,
    )
    assert ssh.hidden is not None and ssh.hidden.how == "deleted"
    assert ssh.hidden.layer.number == 2
    assert ssh.message().endswith(
        "deleted in layer 2 by RUN rm /root/.ssh/id_ed25519 — still in the image"
    )
    dotenv = by_rule["env-password"]
    assert dotenv.hidden is not None and dotenv.hidden.how == "overwritten"
    assert dotenv.hidden.layer.created_by == "RUN echo DEBUG=1 > /srv/app/.env"
    run = by_rule["github-pat"]
    assert run.hidden is None and run.layer is not None and run.layer.number == 4
    doc = result.to_json()["secrets"]
    assert {d["visible"] for d in doc} == {True, False}
    hidden = next(d for d in doc if d["rule"] == "private-key-openssh")
    assert hidden["layer"]["createdBy"] == "COPY secrets /"
    assert hidden["hiddenBy"]["layer"]["index"] == 2


def test_a_directory_deleted_whole_and_a_path_written_twice_in_one_layer(
    planted: list[Sample],
) -> None:
    from imageforge.layers import Entry, EntryType

    gh = _secret(planted, "github-pat").secret.encode()
    sk = _secret(planted, "stripe-secret-token").secret.encode()
    twice: list[tuple[Entry, bytes | None]] = [
        (Entry("srv/a.sh", EntryType.FILE, size=len(gh) + 3), b"GH=" + gh),
        (Entry("srv/a.sh", EntryType.FILE, size=len(sk) + 3), b"SK=" + sk),
    ]
    image = make_image(
        [
            ("COPY conf /etc/conf", {"etc/conf": None, "etc/conf/app.sh": b"GH=" + gh + b"\n"}),
            ("RUN rm -rf /etc/conf", {"etc/conf": "whiteout"}),
            ("COPY a.sh /srv/a.sh", twice),
        ]
    )

    result = scan_image(image)

    found = {(f.rule_id, f.path, f.hidden.how if f.hidden else None) for f in result.findings}
    assert found == {
        ("github-pat", "/etc/conf/app.sh", "deleted"),
        ("github-pat", "/srv/a.sh", "overwritten"),
        ("stripe-secret-token", "/srv/a.sh", None),
    }
    same = next(f for f in result.findings if f.path == "/srv/a.sh" and f.hidden)
    assert same.hidden is not None and same.hidden.same_layer
    assert "later in the same layer" in same.message()


def test_env_labels_history_build_args_and_annotations(planted: list[Sample]) -> None:
    gl = _secret(planted, "gitlab-pat").secret
    slack = _secret(planted, "slack-access-token").secret
    npm = _secret(planted, "npm-access-token").secret
    jwt = _secret(planted, "jwt-token").secret
    db = _secret(planted, "basic-auth-url").secret
    image = make_image(
        [("COPY app /app", {"app/readme.txt": b"hello\n"})],
        config={
            "Env": ["PATH=/usr/bin", f"API_TOKEN={gl}", "DB_PASSWORD=Sup3r-S3cret-Pw"],
            "Labels": {"org.acme.notify": slack},
            "Entrypoint": ["/app/run", f"--db=postgres://app:{db}@db:5432/app"],
        },
        history=[
            History(created_by=f"|2 NPM_TOKEN={npm} MODE=prod /bin/sh -c npm ci"),
            History(created_by=f"ARG SESSION={jwt}", empty_layer=True),
        ],
        annotations={"org.acme.deploy-token": gl},
    )

    result = scan_image(image)

    found = {(f.place, f.path, f.rule_id) for f in result.findings}
    assert found == {
        ("env", "API_TOKEN", "gitlab-pat"),
        ("env", "DB_PASSWORD", "env-password"),
        ("label", "org.acme.notify", "slack-access-token"),
        ("cmd", "Entrypoint", "basic-auth-url"),
        ("history", "step 2", "npm-access-token"),
        ("history", "step 3", "jwt-token"),
        ("annotation", "org.acme.deploy-token", "gitlab-pat"),
    }
    assert all(f.layer is None for f in result.findings)
    text = json.dumps(result.to_json())
    for value in (gl, slack, npm, jwt, db, "Sup3r-S3cret-Pw"):
        assert value not in text


def test_a_secret_in_the_history_is_masked_where_the_history_is_shown(
    planted: list[Sample],
) -> None:
    sk = _secret(planted, "stripe-secret-token").secret
    step = f'RUN echo "STRIPE={sk}" > /srv/.env'
    image = make_image([(step, {"srv/.env": f"STRIPE={sk}\n".encode()})])

    result = scan_image(image)

    assert {(f.place, f.rule_id) for f in result.findings} == {
        ("history", "stripe-secret-token"),
        ("file", "stripe-secret-token"),
    }
    file = next(f for f in result.findings if f.place == "file")
    assert file.layer is not None and file.layer.created_by is not None
    assert sk not in file.layer.created_by and "STRIPE=****" in file.layer.created_by
    assert sk not in json.dumps(result.to_json()) + file.message()


def test_a_damaged_layer_is_named_and_the_other_layers_are_scanned(
    planted: list[Sample],
) -> None:
    gh = _secret(planted, "github-pat").secret.encode()
    blobs: dict[Digest, bytes] = {}
    image = make_image(
        [
            ("COPY a /a", {"a/one.sh": b"GH=" + gh + b"\n"}),
            ("COPY b /b", {f"b/f{i}": bytes(range(256)) * 64 for i in range(40)}),
            ("COPY c /c", {"c/three.sh": b"GH=" + gh + b"\n"}),
        ],
        blobs=blobs,
    )
    broken = image.layers()[1].digest
    blobs[broken] = blobs[broken][: len(blobs[broken]) // 2]  # truncated gzip stream

    result = scan_image(image)

    assert {(f.path, f.layer.number if f.layer else 0) for f in result.findings} == {
        ("/a/one.sh", 1),
        ("/c/three.sh", 3),
    }
    assert len(result.warnings) == 1
    assert f"layer #2 ({broken})" in result.warnings[0]


def test_the_same_findings_from_the_image_and_its_root_filesystem(
    planted: list[Sample], planted_dir: object
) -> None:
    from pathlib import Path

    from imageforge.secrets import scan_directory

    assert isinstance(planted_dir, Path)
    image = make_image([("COPY rootfs /", dict(files(planted)))])

    from_image = {(f.rule_id, f.path.lstrip("/"), f.line) for f in scan_image(image).findings}
    from_dir = {(f.rule_id, f.path, f.line) for f in scan_directory(planted_dir).findings}

    assert from_image == from_dir
    assert len(from_image) == len(planted)


def test_scan_ignore_suppresses_a_rule_with_its_reason(planted: list[Sample]) -> None:
    import datetime as dt

    from imageforge.policy import ScanIgnore

    gh = _secret(planted, "github-pat").secret.encode()
    jwt = _secret(planted, "jwt-token").secret.encode()
    image = make_image([("COPY a /a", {"a/x.sh": b"GH=" + gh + b"\nT=" + jwt + b"\n"})])
    result = scan_image(image)

    result.suppress(
        [
            ScanIgnore("jwt-token", "test sessions only", dt.date(2030, 1, 1)),
            ScanIgnore("github-pat", "rotated", dt.date(2020, 1, 1)),
        ],
        dt.date(2026, 12, 6),
    )

    assert [f.rule_id for f in result.findings] == ["github-pat"]
    assert [f.rule_id for f in result.suppressed] == ["jwt-token"]
    doc = result.to_json()
    assert doc["secretScan"]["suppressed"][0]["suppressedBy"]["reason"] == "test sessions only"
    assert any("github-pat expired on 2020-01-01" in w for w in result.warnings)
