"""imageforge: one toolchain for the whole life of a container image."""

from imageforge import _dataclass_code

_dataclass_code.install()  # before any of the package's dataclasses are made

__version__ = "0.1.0"

__all__ = ["__version__"]
