"""One map from imageforge's error kinds to HTTP: every kind has a status and a code on
both APIs (a new kind without one fails here, not as a 500 in front of a client)."""

from __future__ import annotations

import pytest

from imageforge import errors
from imageforge.errors import ErrorKind, ImageforgeError, StorageFull
from imageforge.registry.api import STATUS, http_error
from imageforge.registry.service import BlobUnknown, LoginLocked, ManifestBlobUnknown

# The class of each kind (not its refinements, such as StorageFull of UNAVAILABLE).
KINDS = {
    cls.kind: cls
    for cls in vars(errors).values()
    if isinstance(cls, type)
    and issubclass(cls, ImageforgeError)
    and ImageforgeError in cls.__bases__
}


def test_every_kind_has_an_error_class_and_a_status() -> None:
    assert set(KINDS) == set(ErrorKind)
    assert set(STATUS) == set(ErrorKind)
    assert STATUS[ErrorKind.STEP_FAILED] == 422


@pytest.mark.parametrize("kind", list(ErrorKind))
def test_every_kind_answers_on_both_apis(kind: ErrorKind) -> None:
    exc = KINDS[kind]("it failed")
    for manage in (False, True):
        err = http_error(exc, manage=manage)
        assert (err.status, err.message) == (STATUS[kind], "it failed")
        assert err.code.isupper()


def test_registry_errors_keep_their_kind_and_name_the_spec_code() -> None:
    blob = http_error(BlobUnknown("blob x is not in a/b", detail={"digest": "x"}))
    assert (blob.status, blob.code, blob.detail) == (404, "BLOB_UNKNOWN", {"digest": "x"})
    assert ManifestBlobUnknown("m").kind is ErrorKind.INVALID_ARGUMENT
    assert http_error(ManifestBlobUnknown("m")).status == 400
    assert http_error(ManifestBlobUnknown("m"), manage=True).code == "INVALID"
    locked = http_error(LoginLocked("too many", retry_after=7))
    assert (locked.status, locked.code, locked.headers) == (
        429,
        "TOOMANYREQUESTS",
        {"Retry-After": "7"},
    )


def test_a_full_disk_is_507_on_both_apis_and_names_no_path() -> None:
    exc = StorageFull("no space left on /srv/registry/blobs/tmp/x")
    for manage in (False, True):
        err = http_error(exc, manage=manage)
        assert (err.status, err.code) == (507, "UNAVAILABLE")
        assert "/srv" not in err.message
