"""The sandbox's user-facing values: ``--publish``, ``--security-opt`` and the
resolv.conf a private network namespace gets (pure; the real runs are in
``test_sandbox``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from imageforge.errors import InvalidArgument
from imageforge.runtime import PortMapping, Security, etc_mounts, parse_publish
from imageforge.runtime import parse_security_options as security
from imageforge.runtime._etc import private_resolv_conf


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("8080:80", PortMapping(8080, 80)),
        ("127.0.0.1:8080:80", PortMapping(8080, 80, host_ip="127.0.0.1")),
        (":8080:80", PortMapping(8080, 80)),
        ("5353:53/udp", PortMapping(5353, 53, protocol="udp")),
    ],
)
def test_publish(value: str, expected: PortMapping) -> None:
    assert parse_publish(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("80", "a host port is required"),
        ("8080:80/sctp", "protocol must be tcp or udp"),
        ("8000-8010:8000-8010", "port ranges are not supported"),
        ("0:80", "host port '0' is not a number from 1 to 65535"),
        ("8080:http", "container port 'http' is not a number"),
        ("::1:8080:80", "is not an IPv4 address"),
    ],
)
def test_bad_publish(value: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match="--publish") as info:
        parse_publish(value)
    assert message in info.value.message


def test_security_options(tmp_path: Path) -> None:
    assert security([]) == Security("default")
    assert security(["seccomp=unconfined"]) == Security("unconfined")
    assert security(["seccomp:unconfined", "no-new-privileges"]) == Security("unconfined")
    assert security(["no-new-privileges=true"]) == Security("default")
    profile = tmp_path / "p.json"
    assert security([f"seccomp={profile}"]) == Security(str(profile))
    with pytest.raises(InvalidArgument, match="always sets no-new-privileges"):
        security(["no-new-privileges=false"])
    with pytest.raises(InvalidArgument, match="'apparmor=unconfined' is not supported"):
        security(["apparmor=unconfined"])


def test_private_resolv_conf_drops_what_the_namespace_cannot_reach() -> None:
    # systemd-resolved's stub: unreachable from the namespace, slirp's forwarder instead
    resolved = "nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch corp.example\n"
    assert private_resolv_conf(resolved) == (
        "options edns0 trust-ad\nsearch corp.example\nnameserver 10.0.2.3\n"
    )
    many = "nameserver 10.255.255.53\nnameserver fd00::1\nnameserver 10.1.1.1\nnameserver 9.9.9.9\n"
    assert private_resolv_conf(many) == (
        "nameserver 10.0.2.3\nnameserver 10.255.255.53\nnameserver 10.1.1.1\n"
    )


def test_etc_files_per_network(tmp_path: Path) -> None:
    host_resolv = Path("/etc/resolv.conf").read_text()
    for network, expected in (
        ("none", ""),
        ("host", host_resolv),
        ("private", private_resolv_conf(host_resolv)),
    ):
        etc_mounts(tmp_path / network, "box", network)
        assert (tmp_path / network / "resolv.conf").read_text() == expected, network
