"""The one RFC 3339 formatter."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

from imageforge.oci import rfc3339


def test_epochs_datetimes_and_now_in_utc_with_z() -> None:
    assert rfc3339(0) == "1970-01-01T00:00:00Z"
    assert rfc3339(1700000000) == "2023-11-14T22:13:20Z"
    cet = timezone(timedelta(hours=1))
    assert rfc3339(datetime(2024, 5, 1, 13, 0, 0, tzinfo=cet)) == "2024-05-01T12:00:00Z"
    assert rfc3339(datetime(2024, 5, 1, 12, 0, 0)) == "2024-05-01T12:00:00Z"  # naive: UTC
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", rfc3339())
    before = datetime.now(UTC).replace(microsecond=0)
    assert datetime.fromisoformat(rfc3339()) >= before


def test_fractions_are_truncated_to_the_digits_asked() -> None:
    when = datetime(2024, 5, 1, 12, 0, 0, 987654, tzinfo=UTC)
    assert rfc3339(when) == "2024-05-01T12:00:00Z"
    assert rfc3339(when, digits=3) == "2024-05-01T12:00:00.987Z"
    assert rfc3339(when, digits=6) == "2024-05-01T12:00:00.987654Z"
    assert rfc3339(1.5, digits=3) == "1970-01-01T00:00:01.500Z"
