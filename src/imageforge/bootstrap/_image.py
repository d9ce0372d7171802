"""What both base images share: a one-layer image over a layer written into the store
(``layers.ingest_layer``), with a config and a history entry."""

from __future__ import annotations

from collections.abc import Sequence

from imageforge.layers import BlobLayer
from imageforge.oci import History, Image, ImageConfig, host_platform
from imageforge.oci.mutate import Addendum, append_layers, empty_image, set_config
from imageforge.runtime import DEFAULT_PATH as _RUNTIME_PATH

__all__ = ["DEFAULT_PATH", "single_layer_image"]

DEFAULT_PATH = f"PATH={_RUNTIME_PATH}"  # the Env entry


def single_layer_image(
    layer: BlobLayer,
    *,
    created: str,
    created_by: str,
    env: Sequence[str],
    cmd: Sequence[str],
) -> Image:
    """An OCI image of this host's platform holding ``layer``, with Env and Cmd set."""
    plat = host_platform()
    base = append_layers(
        empty_image(plat.os, plat.architecture),
        Addendum(layer, History(created=created, created_by=created_by)),
    )
    data = dict(base.config().data)
    if plat.variant:
        data["variant"] = plat.variant
    data["created"] = created
    data["config"] = {"Env": list(env), "Cmd": list(cmd)}
    return set_config(base, ImageConfig(data))
