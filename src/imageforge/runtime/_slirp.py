"""Outbound network for a private network namespace through slirp4netns, as rootless
podman and buildah give it.

slirp4netns puts a tap device in the namespace (10.0.2.100/24, gateway 10.0.2.2, DNS
forwarder 10.0.2.3) and carries its traffic as ordinary sockets of this host, so a
container reaches what the host reaches but is not on the host's network: with
``--disable-host-loopback`` the gateway address does not lead to the host's 127.0.0.1,
and raw sockets inside see only the namespace's own traffic. It runs sandboxed (its own
mount namespace, a seccomp filter of its own) and exits when the descriptor behind
``--exit-fd`` closes, so it dies with imageforge even when imageforge is killed.
Published ports are added through its API socket (``add_hostfwd``).
"""

from __future__ import annotations

import json
import os
import select
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

from imageforge.errors import Conflict, Unavailable
from imageforge.runtime._ports import PortMapping

__all__ = ["DNS_ADDRESS", "GUEST_ADDRESS", "Slirp", "find_slirp4netns"]

DNS_ADDRESS = "10.0.2.3"
GUEST_ADDRESS = "10.0.2.100"
_READY_TIMEOUT = 30.0
_DIRS = "/usr/bin:/usr/sbin:/bin:/sbin:/usr/local/bin"


def find_slirp4netns() -> str:
    """The slirp4netns binary, or a clear error saying how to get it."""
    path = shutil.which("slirp4netns") or shutil.which("slirp4netns", path=_DIRS)
    if path is None:
        raise Unavailable(
            "the private network (--network private, the default) needs slirp4netns, "
            "which is not installed",
            hint="install it (Debian: apt-get install slirp4netns), or give --network none "
            "(no network) or --network host",
        )
    return path


def _reap(proc: subprocess.Popen[bytes]) -> None:
    """Wait for an exiting slirp4netns without holding up the caller (tearing down its
    tap device takes the kernel some 10-30 ms)."""
    threading.Thread(target=proc.wait, name="imageforge-slirp-reaper", daemon=True).start()


class Slirp:
    """slirp4netns serving the network namespace at ``netns_path`` until ``close``."""

    def __init__(self, netns_path: str, workdir: Path, publish: Sequence[PortMapping] = ()) -> None:
        binary = find_slirp4netns()
        ready_r, ready_w = os.pipe()
        exit_r, exit_w = os.pipe()
        self._exit_w: int | None = exit_w
        self._log = tempfile.TemporaryFile(dir=workdir)
        api = workdir / "slirp.sock"
        argv = [
            binary,
            "--configure",
            "--mtu=65520",
            "--disable-host-loopback",
            "--enable-sandbox",
            "--enable-seccomp",
            f"--ready-fd={ready_w}",
            f"--exit-fd={exit_r}",
        ]
        if publish:
            argv.append(f"--api-socket={api}")
        argv += ["--netns-type=path", netns_path, "tap0"]
        try:
            self._proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=self._log,
                pass_fds=(ready_w, exit_r),
            )
        except OSError as exc:
            os.close(ready_r)
            os.close(exit_w)
            self._log.close()
            raise Unavailable(f"cannot start slirp4netns: {exc.strerror}") from None
        finally:  # slirp4netns holds its own ends now
            os.close(ready_w)
            os.close(exit_r)
        try:
            self._wait_ready(ready_r)
            for mapping in publish:
                self._forward(api, mapping)
        except BaseException:
            self.close()
            raise
        finally:
            os.close(ready_r)

    def _why(self) -> str:
        self._log.seek(0)
        lines = self._log.read().decode(errors="replace").strip().splitlines()
        return "; ".join(lines[-3:]) or "it printed nothing"

    def _wait_ready(self, ready_r: int) -> None:
        readable, _, _ = select.select([ready_r], [], [], _READY_TIMEOUT)
        if readable and os.read(ready_r, 1) == b"1":
            return
        if not readable:
            raise Unavailable(f"slirp4netns did not come up within {_READY_TIMEOUT:.0f}s")
        self._proc.wait()
        why = self._why()
        hint = "run 'imageforge system check'; --network none needs no slirp4netns"
        if "/dev/net/tun" in why and "Permission denied" in why:
            # Debian's udev rules give /dev/net/tun mode 0666; without udev it is 0600,
            # and a user who is not root (rootless) cannot open it.
            hint = (
                "as root: chmod 0666 /dev/net/tun (the mode Debian's udev gives it; "
                "'make setup' sets it), or use --network none"
            )
        raise Unavailable(f"slirp4netns could not set up the private network: {why}", hint=hint)

    def _forward(self, api: Path, mapping: PortMapping) -> None:
        request = {
            "execute": "add_hostfwd",
            "arguments": {
                "proto": mapping.protocol,
                "host_addr": mapping.host_ip,
                "host_port": mapping.host_port,
                "guest_addr": GUEST_ADDRESS,
                "guest_port": mapping.container_port,
            },
        }
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(_READY_TIMEOUT)
            conn.connect(str(api))
            conn.sendall(json.dumps(request).encode())
            conn.shutdown(socket.SHUT_WR)
            answer = b""
            while chunk := conn.recv(4096):
                answer += chunk
        try:
            reply = json.loads(answer)
        except ValueError:
            reply = {"error": {"desc": answer.decode(errors="replace")}}
        if "error" in reply:
            raise Conflict(
                f"cannot publish {mapping}: {mapping.host_ip}:{mapping.host_port}/"
                f"{mapping.protocol} is in use on this host or cannot be bound",
                hint="pick another host port (-p HOST:CONTAINER)",
            )

    def close(self) -> None:
        """Let slirp4netns go (it exits when the exit descriptor closes)."""
        if self._exit_w is not None:
            os.close(self._exit_w)
            self._exit_w = None
            _reap(self._proc)
            self._log.close()
