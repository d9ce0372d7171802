"""Recorded cgroup samples of examples/memory-worker (tests/tune/data, recorded with
``imageforge.tune.measure`` on a hybrid-cgroup host): the series the strategies are
unit-tested on."""

from __future__ import annotations

import json
from pathlib import Path

from imageforge.runtime import CgroupStats, Sample

DATA = Path(__file__).parent / "data"


def recorded(name: str) -> tuple[list[Sample], tuple[float, float], int | None]:
    """The samples, the measured window and the writable layer's growth of a recording."""
    doc = json.loads((DATA / name).read_text())
    samples = [Sample(s.pop("at"), CgroupStats(**s)) for s in doc["samples"]]
    window = doc["window"]
    return samples, (window[0], window[1]), doc["writable_layer"]


# the busybox base the builder's tests build from, made once per session
from tests.builder.conftest import base_layout  # noqa: E402, F401
