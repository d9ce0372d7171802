"""Every package says what it exports (``__all__``) and exports only what exists."""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

import pytest

import imageforge


def _packages() -> list[str]:
    names = ["imageforge"]
    for info in pkgutil.walk_packages(imageforge.__path__, "imageforge."):
        if info.ispkg and not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return names


def _public_modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(imageforge.__path__, "imageforge."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return names


@pytest.mark.parametrize("name", _packages())
def test_package_declares_its_api(name: str) -> None:
    module: ModuleType = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{name} has no __all__"
    assert len(exported) == len(set(exported)), f"{name}.__all__ has duplicates"
    missing = [n for n in exported if not hasattr(module, n)]
    assert not missing, f"{name}.__all__ names what it does not define: {missing}"
    assert module.__doc__, f"{name} has no docstring saying what it holds"


@pytest.mark.parametrize("name", _public_modules())
def test_public_module_declares_its_api(name: str) -> None:
    module = importlib.import_module(name)
    assert isinstance(getattr(module, "__all__", None), list), f"{name} has no __all__"


def test_the_packages_this_issue_builds_exist() -> None:
    assert {"imageforge.cli", "imageforge.runtime", "imageforge.dockerfile"} <= set(_packages())
