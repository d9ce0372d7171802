from __future__ import annotations

import pytest

from imageforge.errors import InvalidArgument
from imageforge.oci import Reference

D = "sha256:" + "0123456789abcdef" * 4


@pytest.mark.parametrize(
    ("text", "full", "familiar"),
    [
        ("busybox", "docker.io/library/busybox", "busybox"),
        ("busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"),
        ("library/busybox:1", "docker.io/library/busybox:1", "busybox:1"),
        ("docker.io/busybox", "docker.io/library/busybox", "busybox"),
        ("index.docker.io/library/ubuntu", "docker.io/library/ubuntu", "ubuntu"),
        ("user/app", "docker.io/user/app", "user/app"),
        ("quay.io/org/app:v1", "quay.io/org/app:v1", "quay.io/org/app:v1"),
        ("localhost/app", "localhost/app", "localhost/app"),
        ("localhost:5000/a/b/c:t", "localhost:5000/a/b/c:t", "localhost:5000/a/b/c:t"),
        ("127.0.0.1:5000/x", "127.0.0.1:5000/x", "127.0.0.1:5000/x"),
        (f"busybox@{D}", f"docker.io/library/busybox@{D}", f"busybox@{D}"),
        (f"busybox:1@{D}", f"docker.io/library/busybox:1@{D}", f"busybox:1@{D}"),
        ("ab__c--d/e_f.g", "docker.io/ab__c--d/e_f.g", "ab__c--d/e_f.g"),
        ("Registry.Example.COM/x", "Registry.Example.COM/x", "Registry.Example.COM/x"),
    ],
)
def test_parse_and_normalise(text: str, full: str, familiar: str) -> None:
    ref = Reference.parse(text)
    assert str(ref) == full
    assert ref.familiar() == familiar
    assert Reference.parse(str(ref)) == ref


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "UPPER",
        "a:b:c",
        "a/:b",
        "a//b",
        "-a",
        "a:-tag",
        "a@sha256:zz",
        "a:" + "t" * 129,
        "busybox:",
        "a_/b",
    ],
)
def test_invalid_references(bad: str) -> None:
    with pytest.raises(InvalidArgument, match="reference"):
        Reference.parse(bad)


def test_default_tag_and_retag() -> None:
    ref = Reference.parse("busybox")
    assert ref.tag is None and str(ref.with_default_tag()) == "docker.io/library/busybox:latest"
    assert str(ref.with_tag("x")) == "docker.io/library/busybox:x"
    pinned = Reference.parse(f"busybox@{D}")
    assert pinned.with_default_tag() == pinned
