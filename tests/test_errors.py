from __future__ import annotations

import pytest

from imageforge import errors
from imageforge.errors import ErrorKind, ImageforgeError, Location


def _error_classes() -> list[type[ImageforgeError]]:
    return [
        cls
        for name in errors.__all__
        if isinstance(cls := getattr(errors, name), type)
        and issubclass(cls, ImageforgeError)
        and cls is not ImageforgeError
    ]


def test_every_kind_has_exactly_one_error_class() -> None:
    # A class refining another (StorageFull is an Unavailable) keeps its parent's kind
    # and is not a second class for it.
    roots = [c for c in _error_classes() if c.__bases__ == (ImageforgeError,)]
    kinds = [cls.kind for cls in roots]
    assert sorted(k.value for k in kinds) == sorted(k.value for k in ErrorKind)
    for cls in _error_classes():
        assert any(issubclass(cls, root) and cls.kind is root.kind for root in roots), cls


def test_message_names_the_location() -> None:
    exc = errors.InvalidArgument(
        "unknown instruction: FORM",
        location=Location("Dockerfile", 3, 1),
        hint="did you mean FROM?",
    )
    assert str(exc) == "Dockerfile:3:1: unknown instruction: FORM"
    assert exc.hint == "did you mean FROM?"
    assert exc.message == "unknown instruction: FORM"


@pytest.mark.parametrize(
    ("loc", "text"),
    [
        (Location("a/Dockerfile"), "a/Dockerfile"),
        (Location("Dockerfile", 7), "Dockerfile:7"),
        (Location("Dockerfile", 7, 12), "Dockerfile:7:12"),
    ],
)
def test_location_text(loc: Location, text: str) -> None:
    assert str(loc) == text


def test_digest_mismatch_keeps_both_digests() -> None:
    exc = errors.DigestMismatch("blob corrupted", expected="sha256:aa", actual="sha256:bb")
    assert (exc.expected, exc.actual) == ("sha256:aa", "sha256:bb")
    assert exc.kind is ErrorKind.DIGEST_MISMATCH
    assert isinstance(exc, ImageforgeError)
