from __future__ import annotations

from pathlib import Path

import pytest

from imageforge.registry.storage import FsBlobStorage
from imageforge.testing import BlobStoreContract


class TestFsBlobStorage(BlobStoreContract):
    @pytest.fixture
    def blob_store(self, tmp_path: Path) -> FsBlobStorage:
        return FsBlobStorage(tmp_path / "data")
