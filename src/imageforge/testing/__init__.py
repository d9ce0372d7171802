"""Contract suites for imageforge's seams: any implementation runs the same tests.

Subclass a contract in a test module and provide its factory fixture; pytest collects
the inherited tests. Importing this package needs pytest (a dev dependency).
"""

from imageforge.testing.blobstore import BlobStoreContract
from imageforge.testing.differ import DifferContract
from imageforge.testing.snapshotter import SnapshotterContract

__all__ = ["BlobStoreContract", "DifferContract", "SnapshotterContract"]
