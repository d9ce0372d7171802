"""The registries and stores of tests/remote, for the pipeline's tests too."""

from __future__ import annotations

from tests.remote.conftest import authfile, distribution, hello_store, ours, root

__all__ = ["authfile", "distribution", "hello_store", "ours", "root"]  # fixtures
