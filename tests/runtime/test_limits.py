"""Docker's resource-limit and confinement flags: parsed as Docker parses them, refused
with Docker's rules (and this host's), and written into the OCI runtime spec."""

from __future__ import annotations

import os
import resource
from pathlib import Path

import pytest

from imageforge.errors import InvalidArgument
from imageforge.runtime import (
    DEFAULT_CAPABILITIES,
    Limits,
    Process,
    Security,
    build_spec,
    format_ram,
    parse_limits,
    parse_ram,
    parse_security_options,
    parse_tmpfs,
    parse_ulimit,
)
from imageforge.runtime._capabilities import container_capabilities

MiB = 1 << 20


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("256m", 256 * MiB),
        ("256M", 256 * MiB),
        ("256MiB", 256 * MiB),
        ("256mb", 256 * MiB),  # Docker's mb is a power of 1024 too
        ("256 MB", 256 * MiB),
        ("1.5g", 1536 * MiB),
        ("64k", 64 * 1024),
        ("1048576", MiB),
        ("100b", 100),
    ],
)
def test_memory_sizes_are_docker_s(text: str, expected: int) -> None:
    assert parse_ram(text) == expected


@pytest.mark.parametrize("text", ["", "12x", "-5m", "m", "1.5.5g", "10 GB extra"])
def test_a_bad_memory_size_is_refused(text: str) -> None:
    with pytest.raises(InvalidArgument, match="is not a size") as err:
        parse_limits(memory=text or " ")
    assert "256m" in (err.value.hint or "")


def test_sizes_are_said_back_in_powers_of_1024() -> None:
    assert format_ram(256 * MiB) == "256 MiB"
    assert format_ram(1536 * MiB) == "1.5 GiB"
    assert format_ram(512) == "512 B"


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"memory": "4m"}, "--memory 4 MiB is below the minimum of 6 MiB"),
        ({"memory_reservation": "1m"}, "--memory-reservation 1 MiB is below the minimum"),
        (
            {"memory": "64m", "memory_reservation": "128m"},
            "--memory-reservation 128 MiB is above --memory 64 MiB",
        ),
        ({"memory_swap": "1g"}, "--memory-swap needs --memory"),
        ({"memory": "1g", "memory_swap": "512m"}, "--memory-swap 512 MiB is below --memory 1 GiB"),
        ({"cpus": "0.001"}, "the range is 0.01 to"),
        ({"cpus": "half"}, "--cpus 'half' is not a number"),
        ({"cpus": "0.0000000001"}, "more than 9 decimals"),
        ({"cpu_shares": "1"}, "--cpu-shares 1: the kernel takes 2 to 262144"),
        ({"cpu_shares": "lots"}, "--cpu-shares 'lots' is not a whole number"),
        ({"cpuset_cpus": "0-"}, "is not a CPU list"),
        ({"pids_limit": "-5"}, "--pids-limit -5: not a limit"),
        ({"ulimits": ["nofile=10", "nofile=20"]}, "a limit is given twice"),
    ],
)
def test_docker_s_rules_refuse_bad_limits(flags: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        parse_limits(**flags)  # type: ignore[arg-type]


def test_cpus_are_bounded_by_this_host_s_count() -> None:
    count = len(os.sched_getaffinity(0))
    assert parse_limits(cpus=str(count)).cpus == count
    with pytest.raises(InvalidArgument, match=f"this host has {count} CPU"):
        parse_limits(cpus=str(count + 1))
    with pytest.raises(InvalidArgument, match=f"CPU {count + 7} is not available"):
        parse_limits(cpuset_cpus=f"0,{count + 7}")


def test_unlimited_spellings_mean_no_limit() -> None:
    assert parse_limits(pids_limit="-1").pids is None
    assert parse_limits(pids_limit="0").pids is None
    assert parse_limits(memory="64m", memory_swap="-1").resources()["memory"]["swap"] == -1


def test_limits_fill_the_runtime_spec(tmp_path: Path) -> None:
    limits = parse_limits(
        memory="256m",
        memory_reservation="128m",
        memory_swap="512m",
        cpus="0.5",
        cpu_shares="512",
        cpuset_cpus="0",
        pids_limit="64",
        ulimits=["nofile=100:200", "core=0"],
    )
    spec = build_spec(tmp_path, Process(args=["true"]), limits=limits, cgroups_path="box-1")
    resources = spec["linux"]["resources"]
    assert resources["memory"] == {"limit": 256 * MiB, "swap": 512 * MiB, "reservation": 128 * MiB}
    assert resources["cpu"] == {"quota": 50_000, "period": 100_000, "shares": 512, "cpus": "0"}
    assert resources["pids"] == {"limit": 64}
    assert resources["devices"] == [{"allow": False, "access": "rwm"}]  # still denied
    assert spec["linux"]["cgroupsPath"] == "box-1"
    rlimits = {r["type"]: (r["soft"], r["hard"]) for r in spec["process"]["rlimits"]}
    assert rlimits["RLIMIT_NOFILE"] == (100, 200)  # in place of the default
    assert rlimits["RLIMIT_CORE"] == (0, 0)
    assert rlimits["RLIMIT_NPROC"] == (4096, 4096)  # the default stays


def test_no_limits_is_the_spec_without_limits(tmp_path: Path) -> None:
    spec = build_spec(tmp_path, Process(args=["true"]), limits=Limits())
    assert spec["linux"]["resources"] == {"devices": [{"allow": False, "access": "rwm"}]}
    assert "cgroupsPath" not in spec["linux"]
    assert spec["root"]["readonly"] is False


def test_ulimits_parse_as_docker_s_and_stay_within_the_host_s() -> None:
    assert parse_ulimit("nofile=512").rlimit() == {
        "type": "RLIMIT_NOFILE",
        "soft": 512,
        "hard": 512,
    }
    assert parse_ulimit("nproc=10:20").rlimit()["hard"] == 20
    with pytest.raises(InvalidArgument, match="expected NAME=SOFT"):
        parse_ulimit("nofile")
    with pytest.raises(InvalidArgument, match="expected NAME=SOFT"):
        parse_ulimit("nofile=1:2:3")
    with pytest.raises(InvalidArgument, match="--ulimit bogus: no such limit"):
        parse_ulimit("bogus=1")
    with pytest.raises(InvalidArgument, match="the soft limit is above the hard limit"):
        parse_ulimit("nofile=20:10")
    _, host_hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if host_hard == resource.RLIM_INFINITY:
        pytest.fail("this test expects a host with a finite hard nofile limit (MACHINE-NOTES)")
    with pytest.raises(InvalidArgument, match=f"above this host's \\({host_hard}\\)") as err:
        parse_ulimit(f"nofile=1024:{host_hard + 1}")
    assert f"nofile=1024:{host_hard}" in (err.value.hint or "")


def test_tmpfs_options_merge_as_docker_s() -> None:
    plain = parse_tmpfs("/run")
    assert (plain.destination, plain.type) == ("/run", "tmpfs")
    assert set(plain.options) == {"noexec", "nosuid", "nodev"}
    custom = parse_tmpfs("/scratch/:exec,size=64m,mode=1770")
    assert custom.destination == "/scratch"
    assert set(custom.options) == {"exec", "nosuid", "nodev", "size=64m", "mode=1770"}
    with pytest.raises(InvalidArgument, match="must be an absolute path other than /"):
        parse_tmpfs("run")
    with pytest.raises(InvalidArgument, match="must be an absolute path other than /"):
        parse_tmpfs("/:size=1m")
    with pytest.raises(InvalidArgument, match="unknown option 'bogus'"):
        parse_tmpfs("/run:bogus")


HELD = frozenset(c for c in DEFAULT_CAPABILITIES + ("CAP_NET_ADMIN", "CAP_SYS_ADMIN"))


def test_capabilities_change_as_docker_changes_them() -> None:
    assert container_capabilities(bounding=HELD) == DEFAULT_CAPABILITIES
    dropped = container_capabilities(drop=["chown", "CAP_KILL"], bounding=HELD)
    assert "CAP_CHOWN" not in dropped and "CAP_KILL" not in dropped
    assert set(dropped) | {"CAP_CHOWN", "CAP_KILL"} == set(DEFAULT_CAPABILITIES)
    assert container_capabilities(add=["NET_ADMIN"], bounding=HELD) == (
        *DEFAULT_CAPABILITIES,
        "CAP_NET_ADMIN",
    )
    assert container_capabilities(add=["chown"], drop=["ALL"], bounding=HELD) == ("CAP_CHOWN",)
    everything = container_capabilities(add=["ALL"], drop=["sys_admin"], bounding=HELD)
    assert set(everything) == HELD - {"CAP_SYS_ADMIN"}  # ALL is what this process holds


def test_a_capability_nobody_here_holds_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="--cap-add SYS_RESOURCE: imageforge itself"):
        container_capabilities(add=["SYS_RESOURCE"], bounding=HELD)
    with pytest.raises(InvalidArgument, match="--cap-drop CAP_BOGUS: no such capability"):
        container_capabilities(drop=["CAP_BOGUS"], bounding=HELD)


def test_security_options_carry_capabilities_and_read_only(tmp_path: Path) -> None:
    security = parse_security_options(["no-new-privileges"], cap_drop=["chown"], read_only=True)
    assert security == Security(cap_drop=("chown",), read_only=True)
    assert "CAP_CHOWN" not in security.capabilities()
    assert security.cache_key() != Security().cache_key()  # a step with fewer may fail
    assert Security().cache_key() == "seccomp=default"  # unchanged for existing caches
    spec = build_spec(
        tmp_path,
        Process(args=["true"]),
        readonly_rootfs=security.read_only,
        capabilities=security.capabilities(),
    )
    assert spec["root"]["readonly"] is True
    assert "CAP_CHOWN" not in spec["process"]["capabilities"]["bounding"]
    assert spec["process"]["noNewPrivileges"] is True
