"""Differential tests: the same Dockerfile built by imageforge and by buildah 1.28
(``buildah bud --isolation oci --runtime runc --format docker``) from the same base image
handed over as an OCI layout gives the same root filesystem and the same config fields."""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.builder.conftest import ok
from tests.conftest import containers_env, need_binary, requires_root, run_cli

pytestmark = [requires_root, pytest.mark.slow]

# Empty files or directories at these paths are the runtimes' mount points.
_MOUNT_POINTS = {
    "proc",
    "sys",
    "dev",
    "etc/hosts",
    "etc/resolv.conf",
    "etc/hostname",
    "run",
    "run/.containerenv",
    "run/secrets",
}
_FIELDS = (
    "Env",
    "Entrypoint",
    "Cmd",
    "WorkingDir",
    "User",
    "ExposedPorts",
    "Volumes",
    "Labels",
    "StopSignal",
    "Healthcheck",
)

CASES: dict[str, dict[str, str]] = {
    "metadata": {
        "Dockerfile": """\
FROM {base}
ENV A=1 B="two words"
ENV C 3
ENV PATH=/opt/bin:$PATH
LABEL org.example.a=1 "org.example.b"="x y"
WORKDIR /srv
WORKDIR app
USER app:app
EXPOSE 80 53/udp 8000-8002
VOLUME /data
VOLUME ["/cache", "/logs"]
STOPSIGNAL SIGQUIT
HEALTHCHECK --interval=30s --timeout=5s --start-period=1m --retries=4 CMD wget -q localhost
SHELL ["/bin/sh", "-ec"]
CMD echo from shell form
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["echo hi"]
""",
    },
    "run": {
        "Dockerfile": """\
FROM {base}
RUN echo hello > /hello && mkdir -p /opt/data && echo x > /opt/data/x
RUN rm /etc/group && rm -rf /home && mkdir /home && echo new > /home/new
RUN chmod 700 /var && chown 1000:1000 /opt/data/x && chmod 4755 /hello
RUN ln /hello /hello-hard && ln -s ../hello /opt/rel-link && mkfifo /opt/fifo
RUN rm -rf /tmp && mkdir -m 1777 /tmp && touch /tmp/.keep
RUN printf 'a\\nb\\n' > /opt/data/x && rm /opt/data/x
RUN rm /bin/vi /bin/less /bin/wget && rm -r /var
USER app
WORKDIR /home/app
RUN touch made-by-app && id -u > uid.txt
""",
    },
    "copy": {
        "Dockerfile": """\
FROM {base}
WORKDIR /app
COPY a.txt .
COPY a.txt b.txt docs/
COPY src/ src/
COPY src /flat
COPY *.md /md/
COPY --chown=app:app a.txt /owned/a.txt
COPY --chmod=600 b.txt /modes/b.txt
COPY --chown=1000:1000 --chmod=750 src /both/
ADD bundle.tar /unpacked/
ADD bundle.tar.gz /unpacked-gz
COPY bundle.tar /kept/
ADD a.txt /added-file
COPY empty-dir /empty/
""",
        "a.txt": "alpha\n",
        "b.txt": "bravo\n",
        "README.md": "# readme\n",
        "NOTES.md": "notes\n",
        "ignored.md": "no\n",
        "src/main.sh": "#!/bin/sh\necho main\n",
        "src/lib/util.sh": "util\n",
        ".dockerignore": "ignored.md\n**/*.tmp\n",
        "src/scratch.tmp": "tmp\n",
    },
    "multistage": {
        "Dockerfile": """\
ARG BASE={base}
FROM $BASE AS builder
WORKDIR /work
COPY src/ src/
RUN mkdir -p /out/bin && cat src/*.sh > /out/bin/app && chmod 755 /out/bin/app \\
    && echo built > /out/stamp

FROM builder AS tested
RUN test -x /out/bin/app && echo ok > /out/tested

FROM $BASE AS broken
RUN echo this stage is not needed && exit 1

FROM $BASE AS final
COPY --from=builder /out/bin/app /usr/local/bin/app
COPY --from=tested /out/tested /out/stamp /checks/
COPY --from=0 /work/src /src-copy
COPY --from={base} /etc/passwd /from-image/passwd
CMD ["app"]
""",
        "src/a.sh": "#!/bin/sh\n",
        "src/b.sh": "echo app\n",
    },
    # What id says in RUN steps: the primary group is a supplementary group too.
    "users": {
        "Dockerfile": """\
FROM {base}
RUN echo 'svc:x:1001:1001::/:/bin/sh' >> /etc/passwd && echo 'svc:x:1001:' >> /etc/group \\
 && echo 'staff:x:2000:app' >> /etc/group && id > /id-root
USER app
RUN id > /tmp/id-app
USER svc
RUN id > /tmp/id-svc
USER app:staff
RUN id > /tmp/id-app-staff
""",
    },
    "args": {
        "Dockerfile": """\
ARG FLAVOR=plain
FROM {base}
ARG FLAVOR
ARG LEVEL=3
ENV LEVEL_ENV=$LEVEL
RUN echo "$FLAVOR $LEVEL $LEVEL_ENV" > /args.txt
LABEL flavor=$FLAVOR
""",
    },
}
_BUILD_ARGS = {"args": ["--build-arg", "FLAVOR=spicy"], "multistage": ["--target", "final"]}


def _make_context(root: Path, name: str, base: str) -> Path:
    ctx = root / name
    ctx.mkdir(parents=True)
    for rel, text in CASES[name].items():
        path = ctx / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.replace("{base}", base) if rel == "Dockerfile" else text)
    if (ctx / "src" / "main.sh").exists():
        (ctx / "src" / "main.sh").chmod(0o755)
    if name == "copy":
        (ctx / "empty-dir").mkdir()
        for tarname, mode in (("bundle.tar", "w"), ("bundle.tar.gz", "w:gz")):
            with tarfile.open(ctx / tarname, mode) as tar:  # type: ignore[call-overload]
                for member, data, perm, uid in (
                    ("pkg/one.txt", b"one\n", 0o644, 0),
                    ("pkg/bin/tool", b"#!/bin/sh\n", 0o755, 1000),
                ):
                    info = tarfile.TarInfo(member)
                    info.size = len(data)
                    info.mode = perm
                    info.uid = info.gid = uid
                    info.mtime = 1_700_000_000
                    tar.addfile(info, io.BytesIO(data))
                link = tarfile.TarInfo("pkg/link")
                link.type = tarfile.SYMTYPE
                link.linkname = "one.txt"
                tar.addfile(link)
    return ctx


def tree(root: Path) -> dict[str, tuple[object, ...]]:
    """path -> (type, mode, uid, gid, size, link target, content hash)."""
    out: dict[str, tuple[object, ...]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = str(p.relative_to(root))
            st = os.lstat(p)
            mode = stat.S_IMODE(st.st_mode)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", mode, st.st_uid, st.st_gid, 0, os.readlink(p), "")
            elif stat.S_ISDIR(st.st_mode):
                if rel in _MOUNT_POINTS and not os.listdir(p):
                    continue
                out[rel] = ("dir", mode, st.st_uid, st.st_gid, 0, "", "")
            elif stat.S_ISREG(st.st_mode):
                if rel in _MOUNT_POINTS and st.st_size == 0:
                    continue
                digest = hashlib.sha256(p.read_bytes()).hexdigest()
                out[rel] = ("file", mode, st.st_uid, st.st_gid, st.st_size, "", digest)
            else:
                kind = "fifo" if stat.S_ISFIFO(st.st_mode) else "dev"
                out[rel] = (kind, mode, st.st_uid, st.st_gid, 0, "", "")
    return out


def _unpack(layout: Path, tag: str, dest: Path) -> Path:
    umoci = need_binary("umoci")
    proc = subprocess.run(
        [umoci, "unpack", "--image", f"{layout}:{tag}", str(dest)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return dest / "rootfs"


def _config(layout: Path, tag: str, *, whole: bool = False) -> dict[str, object]:
    index = json.loads((layout / "index.json").read_text())
    desc = next(
        m
        for m in index["manifests"]
        if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag
    )
    blob = layout / "blobs" / "sha256"
    manifest = json.loads((blob / desc["digest"].split(":")[1]).read_text())
    config = json.loads((blob / manifest["config"]["digest"].split(":")[1]).read_text())
    if whole:
        return dict(config)
    cfg: dict[str, object] = config.get("config") or {}
    return cfg


@pytest.fixture(scope="module")
def buildah_env() -> Iterator[tuple[list[str], dict[str, str]]]:
    buildah = need_binary("buildah")
    work = Path(tempfile.mkdtemp(prefix="ifbah-", dir="/tmp"))
    env = containers_env(work)
    cmd = [
        buildah,
        "--root",
        str(work / "root"),
        "--runroot",
        str(work / "run"),
        "--storage-driver",
        "overlay",
    ]
    yield cmd, env
    subprocess.run([*cmd, "rm", "--all"], env=env, capture_output=True, check=False)
    subprocess.run(
        ["umount", "-R", str(work / "root" / "overlay")], capture_output=True, check=False
    )
    subprocess.run(["rm", "-rf", str(work)], capture_output=True, check=False)


@pytest.mark.parametrize("case", sorted(CASES))
def test_imageforge_and_buildah_build_the_same_image(
    case: str,
    tmp_path: Path,
    base_layout: Path,
    buildah_env: tuple[list[str], dict[str, str]],
) -> None:
    _same_as_buildah(case, tmp_path, f"oci:{base_layout}:busybox", buildah_env)


@pytest.fixture(scope="module")
def arm64_base(tmp_path_factory: pytest.TempPathFactory) -> str:
    """``oci:DIR:busybox`` for linux/arm64: Debian's arm64 busybox-static with the users
    the cases need (app, nobody), handed to both builders as the same layout."""
    work = tmp_path_factory.mktemp("arm64-base")
    store = str(work / "store")
    ok(run_cli(["--root", store, "bootstrap", "busybox", "--arch", "arm64"], timeout=300))
    ctx = work / "ctx"
    ctx.mkdir()
    (ctx / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n"
        "nobody:x:65534:65534:nobody:/home:/bin/false\n"
    )
    (ctx / "group").write_text("root:x:0:\napp:x:1000:\nnogroup:x:65534:\n")
    (ctx / "Dockerfile").write_text("FROM busybox:latest\nCOPY passwd group /etc/\n")
    layout = work / "layout"
    build = ["build", str(ctx), "--platform", "linux/arm64", "--output", f"oci:{layout}:busybox"]
    ok(run_cli(["--root", store, *build], timeout=300))
    return f"oci:{layout}:busybox"


# "run" removes applets where the test base has them (/bin/less), not where Debian's
# busybox-static puts them (/usr/bin/less); the other cases run every kind of step.
@pytest.mark.parametrize("case", sorted(set(CASES) - {"run"}))
def test_arm64_builds_equal_buildahs(
    case: str,
    tmp_path: Path,
    arm64_base: str,
    buildah_env: tuple[list[str], dict[str, str]],
) -> None:
    """``--platform linux/arm64`` (RUN steps under qemu-user) against ``buildah bud
    --platform linux/arm64`` from the same arm64 base."""
    _same_as_buildah(case, tmp_path, arm64_base, buildah_env, platform="linux/arm64")


def _same_as_buildah(
    case: str,
    tmp_path: Path,
    base: str,
    buildah_env: tuple[list[str], dict[str, str]],
    *,
    platform: str | None = None,
) -> None:
    ctx = _make_context(tmp_path / "ctx", case, base)
    args = _BUILD_ARGS.get(case, [])
    platform_args = ["--platform", platform] if platform else []
    cmd, env = buildah_env
    bud = subprocess.run(
        [
            *cmd,
            "bud",
            "--isolation",
            "oci",
            "--runtime",
            "runc",
            "--format",
            "docker",
            "--network",
            "host",
            *platform_args,
            *args,
            "-t",
            f"localhost/diff-{case}",
            str(ctx),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=300,
    )
    assert bud.returncode == 0, bud.stderr + bud.stdout
    theirs_layout = tmp_path / "theirs"
    push = subprocess.run(
        [*cmd, "push", f"localhost/diff-{case}", f"oci:{theirs_layout}:{case}"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert push.returncode == 0, push.stderr
    ours_layout = tmp_path / "ours"
    ok(
        run_cli(
            [
                "--root",
                str(tmp_path / "store"),
                "build",
                str(ctx),
                *args,
                *platform_args,
                "--progress",
                "plain",
                "--output",
                f"oci:{ours_layout}:{case}",
            ],
            timeout=300,
        )
    )
    ours_cfg = _config(ours_layout, case)
    # buildah's own Docker-format config (a push to an OCI layout drops Healthcheck)
    inspect = subprocess.run(
        [*cmd, "inspect", "--type", "image", f"localhost/diff-{case}"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert inspect.returncode == 0, inspect.stderr
    theirs_cfg = dict(json.loads(inspect.stdout)["Docker"]["config"])
    labels = dict(theirs_cfg.get("Labels") or {})
    labels.pop("io.buildah.version", None)
    theirs_cfg["Labels"] = labels or None
    for field in _FIELDS:
        assert (ours_cfg.get(field) or None) == (theirs_cfg.get(field) or None), field
    if platform is not None:
        arch = platform.split("/")[1]
        assert _config(ours_layout, case, whole=True)["architecture"] == arch
        assert json.loads(inspect.stdout)["Docker"]["architecture"] == arch
    ours = tree(_unpack(ours_layout, case, tmp_path / "ours-bundle"))
    theirs = tree(_unpack(theirs_layout, case, tmp_path / "theirs-bundle"))
    only_ours = sorted(set(ours) - set(theirs))
    only_theirs = sorted(set(theirs) - set(ours))
    differ = sorted(p for p in set(ours) & set(theirs) if ours[p] != theirs[p])
    report = [f"only imageforge: {p} {ours[p]}" for p in only_ours]
    report += [f"only buildah: {p} {theirs[p]}" for p in only_theirs]
    report += [f"differs: {p}\n  imageforge {ours[p]}\n  buildah    {theirs[p]}" for p in differ]
    assert not report, "\n".join(report)
