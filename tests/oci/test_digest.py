from __future__ import annotations

import hashlib
import io

import pytest

from imageforge.errors import DigestMismatch, InvalidArgument
from imageforge.oci import Digest, VerifyingReader, digest_bytes, digest_file


def test_digest_of_bytes_matches_hashlib() -> None:
    d = digest_bytes(b"hello")
    assert d == "sha256:" + hashlib.sha256(b"hello").hexdigest()
    assert d.algorithm == "sha256" and d.hex == hashlib.sha256(b"hello").hexdigest()
    assert digest_bytes(b"x", "sha512").hex == hashlib.sha512(b"x").hexdigest()


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "sha256",
        "sha256:",
        "sha256:abc",
        "md5:" + "a" * 32,
        "sha256:" + "A" * 64,
        "sha256:" + "g" * 64,
        "sha512:" + "a" * 64,
    ],
)
def test_invalid_digests_are_refused(bad: str) -> None:
    with pytest.raises(InvalidArgument):
        Digest(bad)


def test_digest_file_streams() -> None:
    data = b"x" * (3 * 1024 * 1024 + 5)
    d, n = digest_file(io.BytesIO(data))
    assert (d, n) == (digest_bytes(data), len(data))


def test_verifying_reader_passes_good_content() -> None:
    data = b"layer bytes" * 1000
    r = VerifyingReader(io.BytesIO(data), digest_bytes(data), len(data))
    out = b""
    while chunk := r.read(777):
        out += chunk
    assert out == data


def test_verifying_reader_refuses_replaced_content() -> None:
    r = VerifyingReader(io.BytesIO(b"evil"), digest_bytes(b"good"), 4, what="blob x")
    with pytest.raises(DigestMismatch) as info:
        r.read()
    assert "blob x" in str(info.value)
    assert info.value.expected == digest_bytes(b"good")
    assert info.value.actual == digest_bytes(b"evil")


def test_verifying_reader_refuses_truncated_and_oversized() -> None:
    with pytest.raises(DigestMismatch, match="got 3 bytes, expected 5"):
        VerifyingReader(io.BytesIO(b"abc"), digest_bytes(b"abcde"), 5).read()
    r = VerifyingReader(io.BytesIO(b"abcdef"), digest_bytes(b"abcde"), 5)
    with pytest.raises(DigestMismatch, match="more than the announced 5 bytes"):
        r.read(6)
