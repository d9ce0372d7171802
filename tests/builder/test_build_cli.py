"""``imageforge build`` and ``imageforge run`` end to end: real runc, real overlayfs."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.builder.conftest import ok
from tests.conftest import need_binary, requires_root, run_cli

pytestmark = [requires_root, pytest.mark.slow]

DOCKERFILE = """\
FROM busybox
ARG GREETING=hello
ENV APP_HOME=/srv/app PATH=/srv/app/bin:$PATH
LABEL org.example.team=build
WORKDIR $APP_HOME
COPY greet.sh bin/greet
RUN chmod 755 bin/greet && echo "$GREETING from RUN" > built.txt && rm -f /etc/group-
RUN rm /etc/group
USER app
EXPOSE 8080 53/udp
VOLUME /data
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=3s CMD ["greet"]
ENTRYPOINT ["greet"]
CMD ["world"]
"""


def _context(tmp_path: Path, dockerfile: str = DOCKERFILE) -> Path:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(dockerfile)
    (ctx / "greet.sh").write_text('#!/bin/sh\necho "greetings, $1 (from $(cat built.txt))"\n')
    return ctx


def _build(root: Path, ctx: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(
        ["--root", str(root), "build", str(ctx), "--progress", "plain", *args], timeout=300
    )


def _config(root: Path, name: str) -> dict[str, object]:
    out = ok(run_cli(["--root", str(root), "inspect", name, "--format", "json"])).stdout
    data: dict[str, object] = json.loads(out)
    return data


def test_build_then_run_prints_the_expected_output(tmp_path: Path, store_with_base: Path) -> None:
    ctx = _context(tmp_path)
    built = ok(
        _build(store_with_base, ctx, "-t", "greeter:1", "--format", "json", "--label", "x.y=z")
    )
    result = json.loads(built.stdout)
    config = _config(store_with_base, "greeter:1")["config"]
    assert isinstance(config, dict)
    cfg = config["config"]
    assert cfg["Labels"] == {"org.example.team": "build", "x.y": "z"}
    assert cfg["ExposedPorts"] == {"8080/tcp": {}, "53/udp": {}}
    assert cfg["Volumes"] == {"/data": {}} and cfg["StopSignal"] == "SIGTERM"
    assert cfg["Healthcheck"] == {
        "Test": ["CMD", "greet"],
        "Interval": 30_000_000_000,
        "Timeout": 3_000_000_000,
    }
    assert cfg["User"] == "app" and cfg["WorkingDir"] == "/srv/app"
    assert (
        "PATH=/srv/app/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        in cfg["Env"]
    )
    history = config["history"]
    # base + WORKDIR (made /srv/app) + COPY + 2 RUN
    assert sum(1 for h in history if not h.get("empty_layer")) == 1 + 4
    assert result["tags"] == ["docker.io/library/greeter:1"]
    kinds = [s["instruction"].split()[0] for s in result["steps"]]
    assert kinds[:3] == ["ARG", "ENV", "LABEL"]
    assert "[7/15] RUN" in built.stderr  # each step shown
    ran = run_cli(["--root", str(store_with_base), "run", "--rm", "greeter:1"])
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == "greetings, world (from hello from RUN)\n"
    ran = run_cli(["--root", str(store_with_base), "run", "greeter:1", "you"])
    assert ran.stdout == "greetings, you (from hello from RUN)\n"
    # the container's exit code is run's exit code
    code = run_cli(["--root", str(store_with_base), "run", "greeter:1", "--", "x"])
    assert code.returncode == 0
    fail = run_cli(
        ["--root", str(store_with_base), "run", "busybox", "sh", "-c", "echo out; exit 7"]
    )
    assert (fail.returncode, fail.stdout) == (7, "out\n")


def test_second_build_is_cached_and_no_cache_runs_again(
    tmp_path: Path, store_with_base: Path
) -> None:
    ctx = _context(tmp_path)
    ok(_build(store_with_base, ctx, "-t", "g:1"))
    second = json.loads(ok(_build(store_with_base, ctx, "-t", "g:2", "--format", "json")).stdout)
    fs_steps = [s for s in second["steps"] if s["instruction"].split()[0] in ("RUN", "COPY")]
    assert fs_steps and all(s["cached"] for s in fs_steps)
    first_digest = json.loads(
        ok(run_cli(["--root", str(store_with_base), "inspect", "g:1", "--format", "json"])).stdout
    )["digest"]
    assert second["digest"] == first_digest  # a fully cached build is the same image
    assert "CACHED" in _build(store_with_base, ctx, "-t", "g:3").stderr
    third = json.loads(
        ok(_build(store_with_base, ctx, "-t", "g:4", "--no-cache", "--format", "json")).stdout
    )
    assert not any(s["cached"] for s in third["steps"])
    # a changed COPY source invalidates that step and every later one
    (ctx / "greet.sh").write_text('#!/bin/sh\necho "changed $1"\n')
    fourth_proc = ok(_build(store_with_base, ctx, "-t", "g:5", "--format", "json"))
    fourth = json.loads(fourth_proc.stdout)
    assert "not cached: changed: greet.sh" in fourth_proc.stderr  # says which file
    assert "not cached: an earlier step changed" in fourth_proc.stderr
    copy_index = next(
        i for i, s in enumerate(fourth["steps"]) if s["instruction"].startswith("COPY")
    )
    assert not any(s["cached"] for s in fourth["steps"][copy_index:])
    ran = run_cli(["--root", str(store_with_base), "run", "g:5"])
    assert ran.stdout == "changed world\n"


def test_failing_run_reports_line_command_code_and_output_and_tags_nothing(
    tmp_path: Path, store_with_base: Path
) -> None:
    ctx = _context(
        tmp_path,
        "FROM busybox\nRUN echo preparing\nRUN echo first line; echo 'it broke' >&2; exit 3\n",
    )
    before = ok(run_cli(["--root", str(store_with_base), "images", "--format", "json"])).stdout
    proc = _build(store_with_base, ctx, "-t", "broken:1")
    assert proc.returncode == 11
    assert "Dockerfile:3" in proc.stderr
    assert "exited with code 3" in proc.stderr
    assert "it broke" in proc.stderr and "echo first line" in proc.stderr
    after = ok(run_cli(["--root", str(store_with_base), "images", "--format", "json"])).stdout
    assert after == before


@pytest.mark.parametrize(
    ("dockerfile", "setup", "code", "message"),
    [
        ("FROM busybox\nCOPY missing.txt /x\n", None, 3, "Dockerfile:2.*missing.txt.*not found"),
        ("FROM busybox\nCOPY ../outside /x\n", None, 2, "outside the build context"),
        ("FROM busybox\nCOPY link /x\n", "link", 2, "symlink .* outside the build context"),
        ("FROM busybox\nRUN echo ${NEEDED:?set NEEDED}\n", None, 2, "NEEDED"),
        ("FROM busybox\nENV X=${NEEDED:?must-be-set}\n", None, 2, "Dockerfile:2.*must-be-set"),
        ("FROM nosuchimage\nRUN true\n", None, 3, "nosuchimage"),
    ],
)
def test_bad_input_is_a_clear_error_and_the_store_is_unchanged(
    tmp_path: Path,
    store_with_base: Path,
    dockerfile: str,
    setup: str | None,
    code: int,
    message: str,
) -> None:
    ctx = _context(tmp_path, dockerfile)
    if setup == "link":
        (tmp_path / "host-secret").write_text("secret\n")
        (ctx / "link").symlink_to(tmp_path / "host-secret")
    before = ok(run_cli(["--root", str(store_with_base), "images", "--format", "json"])).stdout
    proc = _build(store_with_base, ctx, "-t", "bad:1")
    if "NEEDED:?set" in dockerfile:
        # RUN words are the shell's to expand: the shell fails the step
        assert proc.returncode == 11, proc.stderr
        assert "NEEDED" in proc.stderr
    else:
        assert proc.returncode == code, proc.stderr
        assert re.search(message, proc.stderr.replace("\n", " ")), proc.stderr
    after = ok(run_cli(["--root", str(store_with_base), "images", "--format", "json"])).stdout
    assert after == before


def test_empty_diff_gives_history_and_no_layer_and_deletions_are_whiteouts(
    tmp_path: Path, store_with_base: Path
) -> None:
    umoci = need_binary("umoci")
    ctx = _context(tmp_path, "FROM busybox\nRUN true\nRUN rm /etc/group && mkdir -p /opt/x\n")
    ok(_build(store_with_base, ctx, "-t", "small:1", "--output", f"oci:{tmp_path / 'out'}:small"))
    data = _config(store_with_base, "small:1")
    text = json.dumps(data)
    assert "RUN true" in text
    layout = tmp_path / "out"
    index = json.loads((layout / "index.json").read_text())
    manifest_digest = index["manifests"][0]["digest"].split(":")[1]
    manifest = json.loads((layout / "blobs" / "sha256" / manifest_digest).read_text())
    config = json.loads(
        (layout / "blobs" / "sha256" / manifest["config"]["digest"].split(":")[1]).read_text()
    )
    assert len(manifest["layers"]) == 2  # base + the second RUN; `RUN true` made none
    hist = [h for h in config["history"] if "RUN true" in h.get("created_by", "")]
    assert hist and hist[0].get("empty_layer") is True
    bundle = tmp_path / "bundle"
    proc = subprocess.run(
        [umoci, "unpack", "--image", f"{layout}:small", str(bundle)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    rootfs = bundle / "rootfs"
    assert not (rootfs / "etc" / "group").exists()
    assert (rootfs / "etc" / "passwd").exists()
    assert (rootfs / "opt" / "x").is_dir()
    # runc's mount points did not leak into the layer
    for stub in ("etc/hosts", "etc/resolv.conf", "etc/hostname"):
        assert not (rootfs / stub).exists(), stub


def test_unused_build_arg_is_a_warning(tmp_path: Path, store_with_base: Path) -> None:
    ctx = _context(tmp_path, "FROM busybox\nARG USED\nRUN echo $USED > /used\n")
    proc = ok(
        _build(
            store_with_base,
            ctx,
            "-t",
            "args:1",
            "--build-arg",
            "USED=yes",
            "--build-arg",
            "UNUSED=no",
        )
    )
    assert "UNUSED" in proc.stderr and "not consumed" in proc.stderr
    ran = run_cli(["--root", str(store_with_base), "run", "args:1", "cat", "/used"])
    assert ran.stdout == "yes\n"


def test_prune_removes_unpacked_layers_no_image_uses(tmp_path: Path, store_with_base: Path) -> None:
    ctx = _context(tmp_path, "FROM busybox\nRUN head -c 100000 /dev/urandom > /blob\n")
    ok(_build(store_with_base, ctx, "-t", "big:1"))
    layers_dir = store_with_base / "snapshots" / "l"
    before = {p.name for p in layers_dir.iterdir()}
    ok(run_cli(["--root", str(store_with_base), "rmi", "big:1"]))
    pruned = json.loads(
        ok(run_cli(["--root", str(store_with_base), "prune", "--format", "json"])).stdout
    )
    assert pruned["snapshotsFreed"] >= 100000
    after = {p.name for p in layers_dir.iterdir()}
    assert len(after) == len(before) - 1  # the base image's layer stays
    ran = run_cli(["--root", str(store_with_base), "run", "busybox", "cat", "/etc/passwd"])
    assert ran.returncode == 0 and ran.stdout.startswith("root:")


def test_network_user_and_env_reach_the_process(tmp_path: Path, store_with_base: Path) -> None:
    ctx = _context(tmp_path, "FROM busybox\nRUN ls /sys/class/net > /nets\n")
    ok(_build(store_with_base, ctx, "-t", "nonet:1", "--network", "none"))
    ran = run_cli(["--root", str(store_with_base), "run", "nonet:1", "cat", "/nets"])
    assert ran.stdout.split() == ["lo"]
    ran = run_cli(["--root", str(store_with_base), "run", "busybox", "ls", "/sys/class/net"])
    assert ran.stdout.split() == ["lo", "tap0"]  # --network private is the default
    host_nets = sorted(os.listdir("/sys/class/net"))
    ls_net = ["run", "--network", "host", "busybox", "ls", "/sys/class/net"]
    ran = run_cli(["--root", str(store_with_base), *ls_net])
    assert sorted(ran.stdout.split()) == host_nets
    ran = run_cli(
        [
            "--root",
            str(store_with_base),
            "run",
            "--network",
            "none",
            "-u",
            "app",
            "-e",
            "K=v",
            "busybox",
            "sh",
            "-c",
            "echo $(id -u):$(id -g) $K",
        ]
    )
    assert ran.stdout == "1000:1000 v\n", ran.stderr


def test_from_scratch_and_from_a_docker_archive(tmp_path: Path, store_with_base: Path) -> None:
    ctx = _context(tmp_path, 'FROM scratch\nCOPY greet.sh /greet.sh\nCMD ["/greet.sh"]\n')
    ok(_build(store_with_base, ctx, "-t", "scratchy:1"))
    doc = _config(store_with_base, "scratchy:1")
    assert isinstance(doc["config"], dict) and len(doc["config"]["rootfs"]["diff_ids"]) == 1
    archive = tmp_path / "busybox.tar"
    ok(run_cli(["--root", str(store_with_base), "export", "busybox", f"docker-archive:{archive}"]))
    ctx2 = tmp_path / "ctx2"
    ctx2.mkdir()
    (ctx2 / "Dockerfile").write_text(f"FROM docker-archive:{archive}\nRUN echo from-archive > /a\n")
    ok(_build(store_with_base, ctx2, "-t", "fromarchive:1"))
    ran = run_cli(["--root", str(store_with_base), "run", "fromarchive:1", "cat", "/a"])
    assert ran.stdout == "from-archive\n"


def test_multi_stage_runs_only_the_stages_the_target_needs(
    tmp_path: Path, store_with_base: Path
) -> None:
    ctx = _context(
        tmp_path,
        "FROM busybox AS build\nRUN echo artifact > /artifact\n"
        "FROM busybox AS broken\nRUN echo must-not-run && exit 9\n"
        'FROM busybox\nCOPY --from=build /artifact /artifact\nCMD ["cat", "/artifact"]\n',
    )
    proc = ok(_build(store_with_base, ctx, "-t", "multi:1", "--format", "json"))
    steps = json.loads(proc.stdout)["steps"]
    assert not any("must-not-run" in s["instruction"] for s in steps)
    assert "must-not-run" not in proc.stderr
    ran = run_cli(["--root", str(store_with_base), "run", "multi:1"])
    assert ran.stdout == "artifact\n"
    failing = _build(store_with_base, ctx, "-t", "broken:1", "--target", "broken")
    assert failing.returncode == 11 and "exited with code 9" in failing.stderr
    missing = _build(store_with_base, ctx, "-t", "x:1", "--target", "nope")
    assert missing.returncode == 2 and "no such stage" in missing.stderr


def test_heredoc_runs(tmp_path: Path, store_with_base: Path) -> None:
    dockerfile = (
        "FROM busybox\n"
        "RUN <<EOF\necho one > /one\necho two >> /one\nEOF\n"
        'RUN <<EOF\n#!/bin/sh\necho "script $0" > /two\nEOF\n'
        "RUN cat <<-EOT > /three\n\tindented\n\tEOT\n"
        "RUN <<EOF sh\necho from-stdin > /four\nEOF\n"
        "COPY <<EOF <<EOT /docs/\nfirst\nEOF\nsecond\nEOT\n"
        "COPY --chmod=700 <<EOF /usr/local/bin/hi\n#!/bin/sh\necho hi\nEOF\n"
    )
    ctx = _context(tmp_path, dockerfile)
    ok(_build(store_with_base, ctx, "-t", "heredoc:1"))
    ran = run_cli(
        [
            "--root",
            str(store_with_base),
            "run",
            "heredoc:1",
            "cat",
            "/one",
            "/two",
            "/three",
            "/four",
        ]
    )
    assert ran.stdout == ("one\ntwo\nscript /dev/.imageforge-heredoc\nindented\nfrom-stdin\n"), (
        ran.stderr
    )


def test_onbuild_triggers_run_in_the_child_build(tmp_path: Path, store_with_base: Path) -> None:
    parent = _context(
        tmp_path, "FROM busybox\nONBUILD COPY greet.sh /from-trigger\nONBUILD RUN echo t > /t\n"
    )
    ok(_build(store_with_base, parent, "-t", "parent:1"))
    cfg = _config(store_with_base, "parent:1")["config"]
    assert isinstance(cfg, dict)
    assert cfg["config"]["OnBuild"] == ["COPY greet.sh /from-trigger", "RUN echo t > /t"]
    child_ctx = tmp_path / "child"
    child_ctx.mkdir()
    (child_ctx / "Dockerfile").write_text("FROM parent:1\nRUN cat /t /from-trigger > /both\n")
    (child_ctx / "greet.sh").write_text("child context\n")
    ok(_build(store_with_base, child_ctx, "-t", "child:1"))
    ran = run_cli(["--root", str(store_with_base), "run", "child:1", "cat", "/both"])
    assert ran.stdout == "t\nchild context\n"
    child = _config(store_with_base, "child:1")["config"]
    assert isinstance(child, dict) and not child["config"].get("OnBuild")


def test_inspect_text_shows_build_commands_verbatim(tmp_path: Path, store_with_base: Path) -> None:
    ctx = _context(tmp_path, "FROM busybox\nRUN echo 'app:x:1000:' >> /etc/group\n")
    ok(_build(store_with_base, ctx, "-t", "verbatim:1"))
    shown = ok(run_cli(["--root", str(store_with_base), "inspect", "verbatim:1"])).stdout
    assert "app:x:1000:" in shown  # not rich's :x: emoji


def test_independent_stages_run_at_the_same_time(tmp_path: Path, store_with_base: Path) -> None:
    # Stage "listener" reads a fifo that stage "talker" writes, both in one cache mount
    # (cache mounts of the same id are shared, as BuildKit's default sharing=shared): run
    # one after the other, the listener would wait for a writer until its timeout and
    # the build would fail. (A loopback port once collided with other test runs.)
    ctx = _context(
        tmp_path,
        "FROM busybox AS listener\n"
        "RUN --mount=type=cache,target=/c rm -f /c/f && mkfifo /c/f"
        " && timeout 60 cat /c/f > /got && test -s /got\n"
        "FROM busybox AS talker\n"
        "RUN --mount=type=cache,target=/c for i in $(seq 300); do test -p /c/f && break;"
        " sleep 0.2; done; echo hello > /c/f && echo sent > /sent\n"
        "FROM busybox\n"
        "COPY --from=listener /got /got\nCOPY --from=talker /sent /sent\n",
    )
    ok(_build(store_with_base, ctx, "-t", "together:1"))
    ran = run_cli(["--root", str(store_with_base), "run", "together:1", "cat", "/got", "/sent"])
    assert ran.stdout == "hello\nsent\n", ran.stderr


def test_dockerfile_on_stdin_and_json_progress(tmp_path: Path, store_with_base: Path) -> None:
    ctx = _context(tmp_path, "unused\n")
    proc = run_cli(
        [
            "--root",
            str(store_with_base),
            "build",
            str(ctx),
            "-f",
            "-",
            "-t",
            "stdin:1",
            "--progress",
            "json",
        ],
        stdin_text="FROM busybox\nRUN echo from-stdin > /s\n",
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stderr.splitlines()]
    assert {e["event"] for e in events} >= {"start", "done", "note"}
    assert any(e["event"] == "done" and "RUN echo from-stdin" in e["key"] for e in events)
    ran = run_cli(["--root", str(store_with_base), "run", "stdin:1", "cat", "/s"])
    assert ran.stdout == "from-stdin\n"
    bad = run_cli(
        ["--root", str(store_with_base), "build", str(ctx), "-f", "-", "-t", "x:1"],
        stdin_text="FROM busybox\nFROBNICATE\n",
    )
    assert bad.returncode == 2 and "<stdin>:2" in bad.stderr


def test_run_mounts_secret_cache_bind_tmpfs(tmp_path: Path, store_with_base: Path) -> None:
    import hashlib

    secret = b"s3cret-token-value"
    (tmp_path / "token").write_bytes(secret)
    ctx = _context(
        tmp_path,
        "FROM busybox\n"
        "RUN --mount=type=secret,id=token sha256sum /run/secrets/token | cut -d' ' -f1 > /h\n"
        "RUN --mount=type=secret,id=token,env=TOKEN "
        'test "$(printf %s "$TOKEN" | sha256sum | cut -d\' \' -f1)" = "$(cat /h)"\n'
        "RUN --mount=type=cache,target=/var/cache/app "
        "sh -c 'echo run >> /var/cache/app/log; wc -l < /var/cache/app/log > /runs'\n"
        "RUN --mount=type=bind,source=greet.sh,target=/mnt/g cp /mnt/g /copied\n"
        "RUN --mount=type=tmpfs,target=/scratch sh -c 'echo x > /scratch/y && mount | "
        'grep -c " /scratch " > /tmpfs\'\n',
    )
    ok(
        _build(
            store_with_base, ctx, "-t", "mounts:1", "--secret", f"id=token,src={tmp_path / 'token'}"
        )
    )
    ran = run_cli(
        ["--root", str(store_with_base), "run", "mounts:1", "cat", "/h", "/runs", "/tmpfs"]
    )
    assert ran.stdout == f"{hashlib.sha256(secret).hexdigest()}\n1\n1\n", ran.stderr
    ran = run_cli(
        [
            "--root",
            str(store_with_base),
            "run",
            "mounts:1",
            "sh",
            "-c",
            "ls /run/secrets /var/cache/app /scratch /mnt 2>&1; cat /copied",
        ]
    )
    assert "s3cret" not in ran.stdout
    assert ran.stdout.count("No such file") == 4  # no mount point reached the image
    assert "No such file" in ran.stdout and 'echo "greetings' in ran.stdout
    # the plaintext is in no layer, config or history
    layout = tmp_path / "out"
    ok(run_cli(["--root", str(store_with_base), "export", "mounts:1", f"oci:{layout}:m"]))
    for blob in (layout / "blobs" / "sha256").iterdir():
        data = blob.read_bytes()
        if data[:2] == b"\x1f\x8b":
            import gzip

            data = gzip.decompress(data)
        assert b"s3cret-token-value" not in data, blob.name
    # the cache mount persists between builds (a second --no-cache build sees 2 runs)
    ok(
        _build(
            store_with_base,
            ctx,
            "-t",
            "mounts:2",
            "--no-cache",
            "--secret",
            f"id=token,src={tmp_path / 'token'}",
        )
    )
    ran = run_cli(["--root", str(store_with_base), "run", "mounts:2", "cat", "/runs"])
    assert ran.stdout == "2\n"
    (tmp_path / "b").mkdir()
    missing = _build(
        store_with_base,
        _context(
            tmp_path / "b", "FROM busybox\nRUN --mount=type=secret,id=nope,required=true true\n"
        ),
        "-t",
        "n:1",
    )
    assert missing.returncode == 3 and "nope" in missing.stderr


def test_source_date_epoch_gives_the_same_digest_from_two_stores(
    tmp_path: Path, base_layout: Path
) -> None:
    digests = []
    for i in range(2):
        root = tmp_path / f"store{i}"
        ok(run_cli(["--root", str(root), "import", f"oci:{base_layout}:busybox", "-t", "busybox"]))
        (tmp_path / f"c{i}").mkdir()
        ctx = _context(
            tmp_path / f"c{i}",
            "FROM busybox\nWORKDIR /app\nCOPY greet.sh .\nRUN echo built > out && mkdir d\n",
        )
        when = 1_750_000_000 + i * 1000  # different file times, both after the epoch
        for path in [ctx, *ctx.rglob("*")]:
            os.utime(path, (when, when))
        proc = run_cli(
            [
                "--root",
                str(root),
                "build",
                str(ctx),
                "-t",
                "repro:1",
                "--no-cache",
                "--format",
                "json",
            ],
            env={"SOURCE_DATE_EPOCH": "1700000000"},
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr
        digests.append(json.loads(proc.stdout)["digest"])
    assert digests[0] == digests[1]


def test_exported_cache_makes_a_fresh_store_run_no_step(
    tmp_path: Path, store_with_base: Path, base_layout: Path
) -> None:
    ctx = _context(
        tmp_path,
        "FROM busybox\nCOPY greet.sh /g\nRUN echo ran > /ran\n"
        "RUN --mount=type=cache,target=/c echo warm > /c/state\n",
    )
    cache = tmp_path / "cache"
    ok(_build(store_with_base, ctx, "-t", "c:1", "--cache-to", f"oci:{cache}"))
    # Any OCI tool can copy it around; it is an artifact, never run as an image.
    probe = ["--root", str(tmp_path / "probe")]
    ok(run_cli([*probe, "import", f"oci:{cache}:build-cache", "-t", "x"]))
    refused = run_cli([*probe, "run", "x", "true"])
    assert refused.returncode != 0 and "not an image with a filesystem" in refused.stderr
    fresh = tmp_path / "fresh"
    ok(run_cli(["--root", str(fresh), "import", f"oci:{base_layout}:busybox", "-t", "busybox"]))
    proc = ok(_build(fresh, ctx, "-t", "c:1", "--cache-from", f"oci:{cache}", "--format", "json"))
    steps = json.loads(proc.stdout)["steps"]
    assert [s["cached"] for s in steps if s["kind"] == "fs"] == [True, True, True]
    ran = run_cli(["--root", str(fresh), "run", "c:1", "cat", "/ran"])
    assert ran.stdout == "ran\n"
    # the cache mount's contents came along
    (mount,) = (fresh / "cache-mounts").iterdir()
    assert (mount / "state").read_text() == "warm\n"


def test_proxy_build_args_reach_run_without_an_arg(tmp_path: Path, store_with_base: Path) -> None:
    ctx = _context(tmp_path, 'FROM busybox\nRUN echo "$HTTP_PROXY" > /proxy\n')
    ok(
        _build(
            store_with_base,
            ctx,
            "-t",
            "proxy:1",
            "--build-arg",
            "HTTP_PROXY=http://proxy.invalid:3128",
        )
    )
    ran = run_cli(["--root", str(store_with_base), "run", "proxy:1", "cat", "/proxy"])
    assert ran.stdout == "http://proxy.invalid:3128\n"
