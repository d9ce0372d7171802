"""One stage as its instructions are dispatched (BuildKit's ``dispatchState``): the image
config so far, the layers under the next step, the history, the shell, the ARG values in
scope and the cache key of the last step.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from imageforge.builder._config import DEFAULT_SHELL, env_list_set, env_map
from imageforge.oci import Image, ImageConfig, Layer, canonical_json, host_platform, mutate
from imageforge.runtime import DEFAULT_PATH

__all__ = ["StageState"]


@dataclass
class StageState:
    """``data`` is the image config JSON being built (``config`` its runtime part),
    ``layers`` every layer under the next step, ``new_layers`` the ones this stage made,
    ``history`` this stage's entries, ``args`` the ARG values in scope, ``key`` the cache
    key of the last step (the base image's digest before the first)."""

    data: dict[str, Any]
    layers: list[Layer]
    key: str
    proxy: Mapping[str, str] = field(default_factory=dict)
    new_layers: list[Layer] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    shell: list[str] = field(default_factory=lambda: list(DEFAULT_SHELL))
    cmd_set: bool = False
    args: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_base(cls, base: Image, proxy: Mapping[str, str]) -> StageState:
        """The state a stage starts from: its base's config, layers and shell."""
        data = dict(base.config().data)
        data["config"] = dict(data.get("config") or {})
        data["history"] = list(data.get("history") or [])
        state = cls(data=data, layers=list(base.layers()), key=str(base.digest), proxy=proxy)
        shell = data["config"].get("Shell")
        if shell:
            state.shell = list(shell)
        return state

    @property
    def config(self) -> dict[str, Any]:
        cfg = self.data.get("config")
        if not isinstance(cfg, dict):
            cfg = {}
            self.data["config"] = cfg
        return cfg

    @property
    def user(self) -> str:
        return str(self.config.get("User") or "")

    @property
    def workdir(self) -> str:
        return str(self.config.get("WorkingDir") or "/")

    def take_onbuild(self) -> list[str]:
        """The base's ONBUILD triggers, dropped from the config (they run once)."""
        return list(self.config.pop("OnBuild", None) or [])

    def run_env(self) -> dict[str, str]:
        """What a RUN step's command sees: the proxy build args, the ARGs in scope, the
        config's Env, and PATH when nothing sets it."""
        env = dict(self.proxy)
        env.update(self.args)
        env.update(env_map(self.config))
        env.setdefault("PATH", DEFAULT_PATH)
        return env

    def record(self, created: str, created_by: str, layer: Layer | None) -> None:
        """A step done: its history entry, and its layer on top when it made one."""
        entry: dict[str, Any] = {"created": created, "created_by": created_by}
        if layer is None:
            entry["empty_layer"] = True
        else:
            self.layers.append(layer)
            self.new_layers.append(layer)
        self.history.append(entry)

    def image(self, base: Image, labels: Mapping[str, str], created: str) -> Image:
        """The stage's image: ``base`` with this stage's layers and config (``labels``
        added, PATH set when nothing set it, as buildah and BuildKit do)."""
        data = self.data
        if labels:
            merged = dict(self.config.get("Labels") or {})
            merged.update(labels)
            self.config["Labels"] = merged
        if "PATH" not in env_map(self.config):
            env_list_set(self.config, "PATH", DEFAULT_PATH)
        data["created"] = created
        data["history"] = [*data.get("history", []), *self.history]
        rootfs = dict(data.get("rootfs") or {"type": "layers"})
        rootfs["type"] = "layers"
        rootfs["diff_ids"] = [str(layer.diff_id) for layer in self.layers]
        data["rootfs"] = rootfs
        plat = host_platform()
        data.setdefault("architecture", plat.architecture)
        data.setdefault("os", plat.os)
        config = ImageConfig.parse(canonical_json(data), what="built image config")
        grown = mutate.append_layers(base, *(mutate.Addendum(lyr) for lyr in self.new_layers))
        return mutate.set_config(grown, config)
