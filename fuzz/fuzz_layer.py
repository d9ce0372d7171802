"""Fuzz the layer tar reader the way ``analyze``, ``sbom`` and ``import`` read a hostile
layer blob: compression detected by magic bytes (gzip, zstd, plain), the blob verified
against its digest and size as it is read, every entry's header parsed and its content
read, then the entries applied as whiteout-aware layers (what ``flatten`` and
``walk_layers`` do). With FUZZ_EXTRACT=1 each input is also extracted into a fresh
directory under /dev/shm (what ``import``/``build`` do).

Any exception that is not an :class:`~imageforge.errors.ImageforgeError` escapes and is a
finding. Run with ``fuzz/run.sh layer MINUTES`` (see fuzz/README.md).
"""

from __future__ import annotations

import io
import os
import shutil
import sys
import tempfile

import atheris

with atheris.instrument_imports(include=["imageforge.layers", "imageforge.oci"]):
    from imageforge.errors import ImageforgeError
    from imageforge.layers import Merger, extract_layer, open_layer
    from imageforge.layers._model import Entry
    from imageforge.oci import digest_bytes

_EXTRACT = os.environ.get("FUZZ_EXTRACT") == "1"
_SCRATCH = "/dev/shm" if os.path.isdir("/dev/shm") else None


def _read_layer(data: bytes) -> list[Entry]:
    entries: list[Entry] = []
    with open_layer(
        io.BytesIO(data), name="fuzz", expected=digest_bytes(data), size=len(data)
    ) as reader:
        for entry in reader:
            entries.append(entry)
            while reader.read(4096):  # content in pieces, as the differ and sbom read it
                pass
        reader.finish()
    return entries


def test_one_input(data: bytes) -> None:
    try:
        entries = _read_layer(data)
    except ImageforgeError:
        return
    merger = Merger()
    merger.apply(0, entries)
    merger.apply(1, entries)  # the same layer on top: its whiteouts now hide something
    if _EXTRACT:
        target = tempfile.mkdtemp(prefix="fuzz-layer-", dir=_SCRATCH)
        try:
            extract_layer(io.BytesIO(data), target, name="fuzz")
        except ImageforgeError:
            pass
        finally:
            shutil.rmtree(target)


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
