"""Content digests (``sha256:<hex>``, ``sha512:<hex>``) and readers that verify them.

A :class:`Digest` is a ``str`` (so it serialises and keys dicts as itself) that was
validated on construction. :class:`VerifyingReader` hashes while it is read and raises
:class:`~imageforge.errors.DigestMismatch` at the end if the bytes or their count were
not what was announced, so nothing is trusted before it has been checked.
"""

from __future__ import annotations

import hashlib
import re
from typing import IO, Any, Final, Protocol

from imageforge.errors import DigestMismatch, InvalidArgument

__all__ = [
    "ALGORITHMS",
    "Digest",
    "Hasher",
    "VerifyingReader",
    "digest_bytes",
    "digest_file",
    "new_hasher",
]

ALGORITHMS: Final = {"sha256": 64, "sha512": 128}
_HEX = re.compile(r"[a-f0-9]+")
_CHUNK = 1 << 20


class Hasher(Protocol):
    def update(self, data: bytes, /) -> None: ...
    def hexdigest(self) -> str: ...


class Digest(str):
    """A validated ``algorithm:hex`` content digest."""

    __slots__ = ()

    def __new__(cls, value: str) -> Digest:
        if isinstance(value, Digest):
            return value
        algorithm, sep, hexpart = value.partition(":")
        if not sep:
            raise InvalidArgument(
                f"invalid digest {value!r}: expected 'sha256:<64 hex digits>'",
            )
        length = ALGORITHMS.get(algorithm)
        if length is None:
            raise InvalidArgument(
                f"unsupported digest algorithm {algorithm!r} in {value!r}",
                hint="use sha256 or sha512",
            )
        if len(hexpart) != length or not _HEX.fullmatch(hexpart):
            raise InvalidArgument(
                f"invalid digest {value!r}: {algorithm} needs {length} lower-case hex digits"
            )
        return super().__new__(cls, value)

    @classmethod
    def from_hex(cls, algorithm: str, hexpart: str) -> Digest:
        return cls(f"{algorithm}:{hexpart}")

    @property
    def algorithm(self) -> str:
        return self.partition(":")[0]

    @property
    def hex(self) -> str:
        return self.partition(":")[2]

    @property
    def short(self) -> str:
        """The first 12 hex digits, as ``docker images`` shows an ID."""
        return self.hex[:12]

    def __repr__(self) -> str:
        return f"Digest({str(self)!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Digest, (str(self),))


def new_hasher(algorithm: str = "sha256") -> Hasher:
    if algorithm not in ALGORITHMS:
        raise InvalidArgument(f"unsupported digest algorithm {algorithm!r}")
    h: Hasher = hashlib.new(algorithm)
    return h


def digest_bytes(data: bytes, algorithm: str = "sha256") -> Digest:
    h = new_hasher(algorithm)
    h.update(data)
    return Digest.from_hex(algorithm, h.hexdigest())


def digest_file(fileobj: IO[bytes], algorithm: str = "sha256") -> tuple[Digest, int]:
    """Digest and size of the rest of ``fileobj``, read in chunks."""
    h = new_hasher(algorithm)
    size = 0
    while chunk := fileobj.read(_CHUNK):
        h.update(chunk)
        size += len(chunk)
    return Digest.from_hex(algorithm, h.hexdigest()), size


class VerifyingReader:
    """A binary reader that hashes what passes through and, at end of stream, raises
    :class:`DigestMismatch` if the content does not match ``expected`` (and ``size``,
    when given). Reading past ``size`` bytes is an error at once, and never more than
    ``size + 1`` bytes are asked of the source (one that does not end stops there)."""

    def __init__(
        self, raw: IO[bytes], expected: Digest | str, size: int | None = None, *, what: str = ""
    ) -> None:
        self._raw = raw
        self.expected = Digest(expected)
        self._size = size
        self._what = what or str(self.expected)
        self._hasher = new_hasher(self.expected.algorithm)
        self._read = 0
        self._verified = False

    @property
    def bytes_read(self) -> int:
        return self._read

    def read(self, n: int = -1) -> bytes:
        if self._size is not None:
            if n is None or n < 0:  # the rest, in bounded pieces
                parts = []
                while part := self.read(_CHUNK):
                    parts.append(part)
                return b"".join(parts)
            n = min(n, self._size + 1 - self._read)
        data = self._raw.read(n)
        if data:
            self._read += len(data)
            if self._size is not None and self._read > self._size:
                raise DigestMismatch(
                    f"{self._what}: more than the announced {self._size} bytes",
                    expected=str(self.expected),
                )
            self._hasher.update(data)
        if not data or n is None or n < 0:
            self.verify()
        return data

    def readinto(self, buffer: bytearray | memoryview) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def readable(self) -> bool:
        return True

    def verify(self) -> None:
        """Check the digest now (the stream must have been read to its end)."""
        if self._verified:
            return
        if self._size is not None and self._read != self._size:
            raise DigestMismatch(
                f"{self._what}: got {self._read} bytes, expected {self._size}",
                expected=str(self.expected),
                hint="the content is truncated or corrupted",
            )
        actual = Digest.from_hex(self.expected.algorithm, self._hasher.hexdigest())
        if actual != self.expected:
            raise DigestMismatch(
                f"{self._what}: content has digest {actual}, expected {self.expected}",
                expected=str(self.expected),
                actual=str(actual),
                hint="the content is corrupted or was replaced",
            )
        self._verified = True

    def close(self) -> None:
        self._raw.close()

    def __enter__(self) -> VerifyingReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
