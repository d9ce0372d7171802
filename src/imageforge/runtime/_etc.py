"""The /etc/hosts, /etc/resolv.conf and /etc/hostname a container sees, bind-mounted
from files written next to the bundle (so the image's own files are never touched)."""

from __future__ import annotations

from pathlib import Path

from imageforge.runtime._model import Mount

__all__ = ["etc_mounts"]

_FALLBACK_RESOLV = "nameserver 8.8.8.8\nnameserver 8.8.4.4\n"


def etc_mounts(directory: Path, hostname: str, network: str) -> list[Mount]:
    """Write hosts, resolv.conf and hostname into ``directory``; the mounts for them."""
    directory.mkdir(parents=True, exist_ok=True)
    hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
    hosts += f"127.0.1.1\t{hostname}\n"
    try:
        resolv = Path("/etc/resolv.conf").read_text()
    except OSError:
        resolv = _FALLBACK_RESOLV
    if network == "none":
        resolv = ""
    files = {"hosts": hosts, "resolv.conf": resolv, "hostname": hostname + "\n"}
    mounts = []
    for name, text in files.items():
        path = directory / name
        path.write_text(text)
        path.chmod(0o644)
        mounts.append(Mount(f"/etc/{name}", "bind", str(path), ("rbind", "rprivate")))
    return mounts
