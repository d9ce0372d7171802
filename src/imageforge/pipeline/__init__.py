"""The composing layer: what takes more than one package below it -- resolve, pull,
push, copy, build, SBOM, prune -- done once here, so the CLI only parses flags, calls one
function and renders, and a library user does the same without it.

- :class:`Session`: one caller's access to images -- the store (opened on first use),
  one registry client, every transport; ``open``/``opened`` read any
  :data:`Location`, ``write`` writes to any, a registry included.
- :func:`parse_location` reads every spelling of where an image is: ``docker://REF``,
  ``oci:DIR[:TAG]``, ``oci-archive:FILE[:TAG]``, ``docker-archive:FILE[:NAME]``,
  ``rootfs:DIR|TAR``, a store name; :func:`find_image` / :func:`open_image` add store
  IDs (:func:`find_in_store`).
- :func:`pull` (registry -> store), :func:`copy` (any -> any; blobs mounted between two
  repositories of one registry), :func:`import_image` / :func:`export_image` (into the
  store under names given, out of it under the image's own tag).
- :class:`FromResolver`: the builder's ``FROM`` (and ``run IMAGE``), pulling a
  registry image that is not in the store yet.
- :func:`build`: the builder with that resolver, the build cache imported and exported
  (:func:`import_build_cache`, :func:`export_build_cache`, an OCI layout through the
  transports) and the result named and written to its outputs.
- :func:`sbom` of a directory or an image; :func:`prune` of unnamed blobs and of
  unpacked layers no image uses (:func:`prune_snapshots`).

Names are loaded on first use, so a command pays only for the packages it needs (the
builder is not imported for ``pull``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from imageforge.pipeline._base import FromResolver
    from imageforge.pipeline._build import Built, build
    from imageforge.pipeline._build_cache import (
        CACHE_ARTIFACT,
        CACHE_TAG,
        export_build_cache,
        import_build_cache,
    )
    from imageforge.pipeline._copy import (
        Exported,
        Imported,
        Pulled,
        copy,
        export_image,
        import_image,
        pull,
    )
    from imageforge.pipeline._location import (
        DOCKER,
        Location,
        location_text,
        names_registry,
        parse_location,
        remote_ref,
        store_name,
    )
    from imageforge.pipeline._lookup import (
        Found,
        NamedImage,
        find_image,
        find_in_store,
        open_image,
    )
    from imageforge.pipeline._prune import Pruned, prune, prune_snapshots
    from imageforge.pipeline._sbom import sbom
    from imageforge.pipeline._session import PULL_JOBS, Session

_WHERE = {
    "FromResolver": "_base",
    "Built": "_build",
    "build": "_build",
    "CACHE_ARTIFACT": "_build_cache",
    "CACHE_TAG": "_build_cache",
    "export_build_cache": "_build_cache",
    "import_build_cache": "_build_cache",
    "Exported": "_copy",
    "Imported": "_copy",
    "Pulled": "_copy",
    "export_image": "_copy",
    "import_image": "_copy",
    "copy": "_copy",
    "pull": "_copy",
    "DOCKER": "_location",
    "Location": "_location",
    "location_text": "_location",
    "names_registry": "_location",
    "parse_location": "_location",
    "remote_ref": "_location",
    "store_name": "_location",
    "Found": "_lookup",
    "NamedImage": "_lookup",
    "find_image": "_lookup",
    "find_in_store": "_lookup",
    "open_image": "_lookup",
    "Pruned": "_prune",
    "prune": "_prune",
    "prune_snapshots": "_prune",
    "sbom": "_sbom",
    "PULL_JOBS": "_session",
    "Session": "_session",
}

__all__ = [
    "Built",
    "CACHE_ARTIFACT",
    "CACHE_TAG",
    "DOCKER",
    "Exported",
    "Found",
    "FromResolver",
    "Imported",
    "Location",
    "NamedImage",
    "PULL_JOBS",
    "Pruned",
    "Pulled",
    "Session",
    "build",
    "copy",
    "export_build_cache",
    "export_image",
    "find_image",
    "find_in_store",
    "import_build_cache",
    "import_image",
    "location_text",
    "names_registry",
    "open_image",
    "parse_location",
    "prune",
    "prune_snapshots",
    "pull",
    "remote_ref",
    "sbom",
    "store_name",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # looked up once
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
