"""A docker archive's members read from several threads at once (what the parallel index
pass of ``sbom``/``scan`` does with an image's layers) each give their own bytes: every
member reads through the archive's one file, so unserialised reads interleaved their
seeks and a layer read another's bytes ("invalid tar header")."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from imageforge.transports import write_image
from imageforge.transports._archive import ArchiveReader
from tests.sbom.conftest import build_image


def test_members_read_in_parallel_keep_their_own_bytes(tmp_path: Path) -> None:
    layers = [{f"d{i}/f{j}": bytes([i]) * (4096 + j) for j in range(40)} for i in range(6)]
    archive = tmp_path / "app.tar"
    write_image(build_image(*layers), f"docker-archive:{archive}")
    reader = ArchiveReader(archive)
    try:
        names = [n for n in reader._members if n.endswith(".tar")]
        assert len(names) == 6
        expected = {n: hashlib.sha256(reader.read_member(n, 1 << 30)).hexdigest() for n in names}

        def digest(name: str) -> str:
            h = hashlib.sha256()
            with reader.open_member(name) as f:
                while chunk := f.read(1000):
                    h.update(chunk)
            return h.hexdigest()

        with ThreadPoolExecutor(max_workers=6) as pool:
            for _ in range(20):
                got = dict(zip(names, pool.map(digest, names), strict=True))
                assert got == expected
    finally:
        reader.close()
