"""imageforge: one toolchain for the whole life of a container image."""

__version__ = "0.1.0"

__all__ = ["__version__"]
