"""The /etc/hosts, /etc/resolv.conf and /etc/hostname a container sees, bind-mounted
from files written next to the bundle (so the image's own files are never touched).

resolv.conf follows the network: the host's as it is with ``host``; none with
``none``; with ``private`` (slirp4netns) the namespace cannot reach a nameserver on the
host's loopback (systemd-resolved's 127.0.0.53, a local dnsmasq) nor, without IPv6, an
IPv6 one, so those are dropped and slirp4netns's DNS forwarder (10.0.2.3, which asks
the host's resolvers) comes first, as podman writes it; search and options lines stay.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

from imageforge.runtime._model import Mount
from imageforge.runtime._slirp import DNS_ADDRESS

__all__ = ["etc_mounts", "private_resolv_conf"]

_FALLBACK_RESOLV = "nameserver 8.8.8.8\nnameserver 8.8.4.4\n"
_MAX_NAMESERVERS = 3  # what glibc reads


def _reachable_from_private(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    return ip.version == 4 and not ip.is_loopback


def private_resolv_conf(host: str) -> str:
    """The resolv.conf for a private network namespace, from the host's."""
    servers = [DNS_ADDRESS]
    rest: list[str] = []
    for line in host.splitlines():
        fields = line.split()
        if fields and fields[0] == "nameserver":
            if len(fields) > 1 and _reachable_from_private(fields[1]):
                if fields[1] not in servers:
                    servers.append(fields[1])
        elif line.strip():
            rest.append(line)
    lines = rest + [f"nameserver {s}" for s in servers[:_MAX_NAMESERVERS]]
    return "\n".join(lines) + "\n"


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
    elif network == "private":
        resolv = private_resolv_conf(resolv)
    files = {"hosts": hosts, "resolv.conf": resolv, "hostname": hostname + "\n"}
    mounts = []
    for name, text in files.items():
        path = directory / name
        path.write_text(text)
        path.chmod(0o644)
        mounts.append(Mount(f"/etc/{name}", "bind", str(path), ("rbind", "rprivate")))
    return mounts
