"""``-p/--publish [IP:]HOST:CONTAINER[/tcp|udp]``: a host port forwarded into a
container's private network (Docker's spelling; IPv4 host addresses)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from imageforge.errors import InvalidArgument

__all__ = ["PortMapping", "parse_publish"]


@dataclass(frozen=True)
class PortMapping:
    """Connections to ``host_ip:host_port`` on the host reach ``container_port``."""

    host_port: int
    container_port: int
    protocol: str = "tcp"
    host_ip: str = "0.0.0.0"

    def __str__(self) -> str:
        return f"{self.host_ip}:{self.host_port}->{self.container_port}/{self.protocol}"


def _port(text: str, what: str, value: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise InvalidArgument(
            f"--publish {value!r}: {what} port {text!r} is not a number from 1 to 65535",
            hint="give -p [IP:]HOST:CONTAINER[/tcp|udp], e.g. -p 8080:80",
        )
    return int(text)


def parse_publish(value: str) -> PortMapping:
    """One ``--publish`` value."""
    spec, _, protocol = value.partition("/")
    protocol = protocol or "tcp"
    if protocol not in ("tcp", "udp"):
        raise InvalidArgument(f"--publish {value!r}: protocol must be tcp or udp")
    parts = spec.rsplit(":", 2)
    if len(parts) == 1:
        raise InvalidArgument(
            f"--publish {value!r}: a host port is required",
            hint=f"give -p HOST:CONTAINER, e.g. -p {spec}:{spec}",
        )
    if any("-" in p for p in parts[-2:]):
        raise InvalidArgument(f"--publish {value!r}: port ranges are not supported")
    host_ip = "0.0.0.0"
    if len(parts) == 3:
        try:
            host_ip = str(ipaddress.IPv4Address(parts[0] or "0.0.0.0"))
        except ValueError:
            raise InvalidArgument(
                f"--publish {value!r}: {parts[0]!r} is not an IPv4 address"
            ) from None
    return PortMapping(
        host_port=_port(parts[-2], "host", value),
        container_port=_port(parts[-1], "container", value),
        protocol=protocol,
        host_ip=host_ip,
    )
