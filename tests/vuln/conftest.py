"""Fixtures of the vulnerability tests: a database built from the real records in
``data/`` and the Debian tracker sample of the shared corpus."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from imageforge.vuln import VulnDB, import_source
from tests.dockerfile.corpus import corpus_dir

DATA = Path(__file__).parent / "data"


def tracker_sample() -> Path:
    return corpus_dir("debian-tracker-sample")


@pytest.fixture(scope="session")
def real_db_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("vulndb-root")
    warnings: list[str] = []
    import_source(root, f"osv:{DATA / 'osv'}", warnings.append)
    import_source(root, f"debian-tracker:{tracker_sample()}", warnings.append)
    import_source(root, f"alpine-secdb:{DATA / 'alpine'}", warnings.append)
    assert all("pkg.name" in w for w in warnings), warnings
    return root


@pytest.fixture
def real_db(real_db_root: Path) -> Iterator[VulnDB]:
    db = VulnDB.open(real_db_root)
    yield db
    db.close()
