"""Registry throughput and latency: imageforge's registry beside Debian's docker-registry
(distribution 2.8), measured in the same run.

For each server: ``skopeo copy`` push of an image with one SIZE MiB layer from an OCI
layout, ``skopeo copy`` pulls of it into a ``dir:`` target (ROUNDS of them, median), and
skopeo's own bound: the same pull from a ``dir:`` on the local disk to another, no server at
all (what skopeo does with the bytes -- hash, write -- caps what any server can show through
it), then GETS parallel plain HTTP GETs of the layer blob by ``curl``, reported as MB/s and
as the server process's CPU seconds per GiB served (from /proc: what load on the machine
bends least), then CONCURRENCY concurrent manifest GETs (httpx, one client) with their
p50/p99 latency. imageforge is pushed to with credentials (basic -> token flow) and read
anonymously from the public project; the peer runs without auth, as Debian ships it. With
``--db postgresql://...`` (an empty database) a third row runs imageforge with its metadata
in that PostgreSQL database.

With ``--gates``, the cost of the pull policies (#26): one more imageforge server, whose
--root holds a vulnerability database (the vulnerability tests' OSV records), serves a
small image that passes every gate (scanned on push, no finding, signed by ``imageforge
sign`` with the project's key, config user 1000). The same CONCURRENCY manifest GETs are
timed with the project's policies off, then on (prevent_vulnerable at LOW,
require_signature, refuse_root), on the same server and image.

    .venv/bin/python benchmarks/registry_serve.py [--size-mib 1024] [--concurrency 200] [--rounds 3]
        [--gets 4] [--db postgresql://USER@HOST:PORT/DB] [--gates]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
ADMIN_PASSWORD = "bench-password"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_blob(layout: Path, data: bytes) -> dict[str, object]:
    hexd = hashlib.sha256(data).hexdigest()
    (layout / "blobs" / "sha256" / hexd).write_bytes(data)
    return {"digest": f"sha256:{hexd}", "size": len(data)}


def cpu_seconds(pid: int) -> float:
    """User + system CPU of process ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def parallel_gets(
    url: str, repo: str, digest: str, n: int, headers: dict[str, str], pid: int, size: int
) -> dict[str, float]:
    """``n`` curl GETs of the blob at once (each to /dev/null): MB/s over all of them,
    and the server's CPU seconds per GiB sent."""
    args = ["curl", "-sS", "-f", "-L", "-o", "/dev/null"]
    for key, value in headers.items():
        if key.lower() == "authorization":
            args += ["-H", f"{key}: {value}"]
    cpu0, t0 = cpu_seconds(pid), time.perf_counter()
    procs = [subprocess.Popen([*args, f"{url}/v2/{repo}/blobs/{digest}"]) for _ in range(n)]
    if any(p.wait() != 0 for p in procs):
        sys.exit("a parallel GET failed")
    seconds, cpu = time.perf_counter() - t0, cpu_seconds(pid) - cpu0
    return {"gets_mb_s": n * size / seconds / 1e6, "gets_cpu_s_gib": cpu / (n * size / 2**30)}


def make_layout(layout: Path, size_mib: int) -> None:
    (layout / "blobs" / "sha256").mkdir(parents=True)
    tmp = layout / "layer.tmp"
    h = hashlib.sha256()
    with open(tmp, "wb") as f:
        for _ in range(size_mib):
            chunk = os.urandom(1 << 20)
            h.update(chunk)
            f.write(chunk)
    layer = {
        "mediaType": "application/vnd.oci.image.layer.v1.tar",
        "digest": f"sha256:{h.hexdigest()}",
        "size": size_mib << 20,
    }
    tmp.rename(layout / "blobs" / "sha256" / h.hexdigest())
    finish_layout(layout, layer, {}, "big")


def finish_layout(
    layout: Path, layer: dict[str, object], settings: dict[str, object], name: str
) -> None:
    """The config, manifest and index of a one-layer image tagged ``name``."""
    config = {
        "architecture": "amd64",
        "os": "linux",
        **({"config": settings} if settings else {}),
        "rootfs": {"type": "layers", "diff_ids": [layer["digest"]]},
    }
    cdesc = write_blob(layout, json.dumps(config).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **cdesc},
        "layers": [layer],
    }
    ref = {"mediaType": MANIFEST, **write_blob(layout, json.dumps(manifest).encode())}
    ref["annotations"] = {"org.opencontainers.image.ref.name": name}
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [ref]}))
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')


def wait_up(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 90  # start-up takes over 20 s on a loaded machine
    while time.monotonic() < deadline:
        try:
            httpx.get(url + "/v2/", timeout=1)
            return
        except httpx.TransportError:
            if proc.poll() is not None:
                sys.exit(f"server exited with {proc.returncode}")
            time.sleep(0.05)
    sys.exit("server did not start")


IMAGEFORGE = str(Path(sys.executable).with_name("imageforge"))


def start_imageforge(
    work: Path, port: int, db: str | None = None, root: Path | None = None
) -> subprocess.Popen[bytes]:
    env = dict(os.environ, IMAGEFORGE_ADMIN_PASSWORD=ADMIN_PASSWORD)
    args = [IMAGEFORGE] + (["--root", str(root)] if root else [])
    args += ["registry", "serve", "--addr", f"127.0.0.1:{port}"]
    data = "imageforge-gates-data" if root else "imageforge-pg-data" if db else "imageforge-data"
    args += ["--data-dir", str(work / data)]
    if db:
        args += ["--db", db]
    return subprocess.Popen(args, env=env, stderr=subprocess.DEVNULL)


def start_distribution(work: Path, port: int) -> subprocess.Popen[bytes]:
    cfg = work / "distribution.yml"
    cfg.write_text(
        "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n"
        f"    rootdirectory: {work / 'distribution-data'}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    return subprocess.Popen(
        ["/usr/bin/docker-registry", "serve", str(cfg)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def timed(args: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(args, check=True, capture_output=True)
    return time.perf_counter() - t0


async def manifest_gets(url: str, repo: str, n: int, headers: dict[str, str]) -> list[float]:
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:

        async def one() -> float:
            t0 = time.perf_counter()
            r = await client.get(f"/v2/{repo}/manifests/1", headers=headers)
            r.raise_for_status()
            return time.perf_counter() - t0

        return list(await asyncio.gather(*(one() for _ in range(n))))


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def run_one(
    name: str,
    work: Path,
    layout: Path,
    size_mib: int,
    concurrency: int,
    gets: int,
    db: str | None = None,
    rounds: int = 3,
) -> dict[str, float]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    ours = name.startswith("imageforge")
    proc = start_imageforge(work, port, db) if ours else start_distribution(work, port)
    try:
        wait_up(url, proc)
        repo = "library/big"
        dest = f"docker://127.0.0.1:{port}/{repo}:1"
        creds = ["--dest-creds", f"admin:{ADMIN_PASSWORD}"] if ours else []
        push = timed(
            ["skopeo", "copy", "--dest-tls-verify=false", *creds, f"oci:{layout}:big", dest]
        )
        pulls = []
        for _ in range(rounds):
            out = work / f"pulled-{name}"
            shutil.rmtree(out, ignore_errors=True)
            pulls.append(timed(["skopeo", "copy", "--src-tls-verify=false", dest, f"dir:{out}"]))
        pull = statistics.median(pulls)  # the last pull stays: the bound copies it
        headers = pull_headers(url, repo) if ours else {"Accept": MANIFEST}
        # as the server has it (skopeo compresses the tar layer on the way)
        layer = httpx.get(f"{url}/v2/{repo}/manifests/1", headers=headers).json()["layers"][0]
        return {
            "push_mb_s": size_mib * 1.048576 / push,
            "pull_mb_s": size_mib * 1.048576 / pull,
            **parallel_gets(
                url, repo, layer["digest"], gets, headers, proc.pid, int(layer["size"])
            ),
            **latency(url, repo, concurrency, headers),
        }
    finally:
        proc.terminate()
        proc.wait()


def pull_headers(url: str, repo: str, auth: tuple[str, str] | None = None) -> dict[str, str]:
    """An Accept header and a pull token for ``repo`` (anonymous unless ``auth``)."""
    scope = {"scope": f"repository:{repo}:pull"}
    tok = httpx.get(f"{url}/token", params=scope, auth=auth).json()
    return {"Accept": MANIFEST, "Authorization": f"Bearer {tok['token']}"}


def latency(url: str, repo: str, concurrency: int, headers: dict[str, str]) -> dict[str, float]:
    asyncio.run(manifest_gets(url, repo, 10, headers))  # warm up
    lat = asyncio.run(manifest_gets(url, repo, concurrency, headers))
    return {"p50_ms": pct(lat, 50) * 1000, "p99_ms": pct(lat, 99) * 1000}


def make_small_layout(layout: Path) -> None:
    """An image that passes every gate: one file, no package, config user 1000."""
    import io
    import tarfile

    (layout / "blobs" / "sha256").mkdir(parents=True)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        data = b"hello from the gates benchmark\n"
        info = tarfile.TarInfo("hello.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    layer = {
        "mediaType": "application/vnd.oci.image.layer.v1.tar",
        **write_blob(layout, buf.getvalue()),
    }
    finish_layout(layout, layer, {"User": "1000", "Cmd": ["/hello.txt"]}, "small")


def run_gates(work: Path, concurrency: int) -> dict[str, dict[str, float]]:
    """Manifest GET latency of one image on one server, its project's policies off, then on."""
    root = work / "gates-root"
    osv = ROOT / "tests" / "vuln" / "data" / "osv"
    cli = [IMAGEFORGE, "--root", str(root)]
    subprocess.run([*cli, "vulndb", "import", f"osv:{osv}"], check=True, capture_output=True)
    key = work / "gates-cosign"
    env = dict(os.environ, COSIGN_PASSWORD="bench")
    subprocess.run(
        [*cli, "key", "generate", "--output-key-prefix", str(key)],
        check=True, capture_output=True, env=env,
    )  # fmt: skip
    layout = work / "small-layout"
    make_small_layout(layout)
    port = free_port()
    url, host, repo = f"http://127.0.0.1:{port}", f"127.0.0.1:{port}", "gates/app"
    admin = ("admin", ADMIN_PASSWORD)
    proc = start_imageforge(work, port, root=root)
    try:
        wait_up(url, proc)
        projects = f"{url}/api/v1/projects"
        r = httpx.post(projects, json={"name": "gates", "public": True}, auth=admin)
        r.raise_for_status()
        policy_url = f"{projects}/gates/policy"
        httpx.put(policy_url, json={"scan_on_push": True}, auth=admin).raise_for_status()
        subprocess.run(
            ["skopeo", "copy", "--dest-tls-verify=false", "--dest-creds", ":".join(admin),
             f"oci:{layout}:small", f"docker://{host}/{repo}:1"],
            check=True, capture_output=True,
        )  # fmt: skip
        auth_file = work / "gates-auth.json"
        login = [*cli, "login", host, "--username", "admin", "--password-stdin"]
        login += ["--tls-verify=false", "--authfile", str(auth_file)]
        subprocess.run(login, input=ADMIN_PASSWORD.encode(), check=True, capture_output=True)
        sign = [*cli, "sign", f"{host}/{repo}:1", "--key", f"{key}.key", "--tls-verify=false"]
        sign_env = dict(env, REGISTRY_AUTH_FILE=str(auth_file))
        subprocess.run(sign, check=True, capture_output=True, env=sign_env)
        wait_scanned(url, repo, admin)
        headers = pull_headers(url, repo)
        rows = {"imageforge policies off": latency(url, repo, concurrency, headers)}
        on = {
            "prevent_vulnerable": True,
            "severity": "low",
            "require_signature": True,
            "keys": [Path(f"{key}.pub").read_text()],
            "refuse_root": True,
        }
        httpx.put(policy_url, json=on, auth=admin).raise_for_status()
        rows["imageforge policies on"] = latency(url, repo, concurrency, headers)
        return rows
    finally:
        proc.terminate()
        proc.wait()


def wait_scanned(url: str, repo: str, auth: tuple[str, str]) -> None:
    """Until the scan on push of ``repo:1`` is stored (the policy refuses the image before)."""
    digest = httpx.get(f"{url}/v2/{repo}/manifests/1", headers=pull_headers(url, repo, auth))
    digest.raise_for_status()
    project, name = repo.split("/", 1)
    scan = f"{url}/api/v1/projects/{project}/repositories/{name}/artifacts/"
    scan += f"{digest.headers['Docker-Content-Digest']}/scan"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        r = httpx.get(scan, auth=auth)
        status = r.json().get("scan_status") if r.status_code == 200 else None
        if status == "Success":
            return
        if status == "Error":
            sys.exit(f"the scan on push of {repo}:1 failed: {r.json().get('message')}")
        time.sleep(0.2)
    sys.exit(f"the scan on push of {repo}:1 did not finish: {r.status_code} {r.text[:300]}")


def skopeo_bound(pulled: Path, out: Path, rounds: int) -> float:
    """Median seconds of ``skopeo copy dir:PULLED dir:OUT``: the same blob, the same work
    on its bytes, no server."""
    times = []
    for _ in range(rounds):
        shutil.rmtree(out, ignore_errors=True)
        times.append(timed(["skopeo", "copy", f"dir:{pulled}", f"dir:{out}"]))
    shutil.rmtree(out, ignore_errors=True)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--concurrency", type=int, default=200)
    ap.add_argument("--gets", type=int, default=4, help="parallel curl GETs of the layer")
    ap.add_argument("--rounds", type=int, default=3, help="skopeo pulls per server")
    ap.add_argument("--db", help="also run imageforge on this (empty) PostgreSQL database")
    ap.add_argument("--gates", action="store_true", help="also time the pull policies' cost")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="regbench-"))
    try:
        layout = work / "layout"
        make_layout(layout, args.size_mib)
        results = {
            name: run_one(
                name, work, layout, args.size_mib, args.concurrency, args.gets, None, args.rounds
            )
            for name in ("distribution", "imageforge")
        }
        bound = skopeo_bound(work / "pulled-distribution", work / "bound", args.rounds)
        if args.db:
            results["imageforge-pg"] = run_one(
                "imageforge-pg",
                work,
                layout,
                args.size_mib,
                args.concurrency,
                args.gets,
                args.db,
                args.rounds,
            )
        gates = run_gates(work, args.concurrency) if args.gates else {}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"one {args.size_mib} MiB layer; push and pull by skopeo; {args.gets} parallel curl "
        f"GETs of the layer; {args.concurrency} concurrent manifest GETs"
    )
    print(
        f"{'server':<14}{'push MB/s':>11}{'pull MB/s':>11}{'GETs MB/s':>11}"
        f"{'cpu s/GiB':>11}{'p50 ms':>9}{'p99 ms':>9}"
    )
    for name, r in results.items():
        print(
            f"{name:<14}{r['push_mb_s']:>11.1f}{r['pull_mb_s']:>11.1f}{r['gets_mb_s']:>11.1f}"
            f"{r['gets_cpu_s_gib']:>11.2f}{r['p50_ms']:>9.1f}{r['p99_ms']:>9.1f}"
        )
    bound_mb_s = args.size_mib * 1.048576 / bound
    print(f"{'skopeo bound':<14}{'':>11}{bound_mb_s:>11.1f}  (dir: -> dir:, no server)")
    if gates:
        print(f"pull policies, one small image, {args.concurrency} concurrent manifest GETs")
        print(f"{'server':<26}{'p50 ms':>9}{'p99 ms':>9}")
        for name, r in {"distribution": results["distribution"], **gates}.items():
            print(f"{name:<26}{r['p50_ms']:>9.1f}{r['p99_ms']:>9.1f}")
    ifr, dist = results["imageforge"], results["distribution"]
    print(
        f"imageforge / distribution: push {ifr['push_mb_s'] / dist['push_mb_s']:.2f}x, "
        f"pull {ifr['pull_mb_s'] / dist['pull_mb_s']:.2f}x (skopeo's bound: "
        f"{ifr['pull_mb_s'] / bound_mb_s:.2f}x / {dist['pull_mb_s'] / bound_mb_s:.2f}x of it), "
        f"parallel GETs {ifr['gets_mb_s'] / dist['gets_mb_s']:.2f}x throughput at "
        f"{ifr['gets_cpu_s_gib'] / dist['gets_cpu_s_gib']:.2f}x the server CPU per byte"
    )


if __name__ == "__main__":
    main()
