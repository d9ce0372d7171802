"""``RUN --mount=...`` options: CSV ``key=value`` fields, as BuildKit reads them."""

from __future__ import annotations

import csv

from imageforge.dockerfile._instructions import Mount

__all__ = ["MountError", "parse_mount"]

MOUNT_TYPES = ("bind", "cache", "tmpfs", "secret", "ssh")
SHARING = ("shared", "private", "locked")
_KEYS = {
    "type": "type",
    "from": "from_",
    "source": "source",
    "src": "source",
    "target": "target",
    "dst": "target",
    "destination": "target",
    "id": "id",
    "sharing": "sharing",
    "mode": "mode",
    "uid": "uid",
    "gid": "gid",
    "size": "size",
    "env": "env",
}
_TRUE = ("1", "t", "T", "true", "TRUE", "True")
_FALSE = ("0", "f", "F", "false", "FALSE", "False")


class MountError(Exception):
    """A ``--mount`` value BuildKit refuses."""


def _go_bool(key: str, value: str) -> bool:
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise MountError(f"invalid value for {key}: {value}")


def parse_mount(raw: str) -> Mount:
    """Parse one ``--mount`` value. Values holding ``$`` are left for expansion and
    not checked here (BuildKit checks them once variables are known)."""
    try:
        fields = next(csv.reader([raw], strict=True))
    except (csv.Error, StopIteration) as exc:
        raise MountError(f"failed to parse csv mounts: {exc}") from None
    values: dict[str, object] = {}
    mount_type = "bind"
    for item in fields:
        key, has_value, value = item.partition("=")
        key = key.lower()
        if not has_value:
            if key in ("readonly", "ro"):
                values["readonly"] = True
            elif key in ("readwrite", "rw"):
                values["readonly"] = False
            elif key == "required":
                values["required"] = True
            else:
                raise MountError(f"invalid field '{item}' must be a key=value pair")
            continue
        dynamic = "$" in value
        if key == "from" and "$" in value[:-1]:
            raise MountError(
                f"'{key}' doesn't support variable expansion, define alias stage instead"
            )
        if key in ("readonly", "ro"):
            values["readonly"] = value if dynamic else _go_bool(key, value)
        elif key in ("readwrite", "rw"):
            values["readonly"] = value if dynamic else not _go_bool(key, value)
        elif key == "required":
            values["required"] = value if dynamic else _go_bool(key, value)
        elif key in _KEYS:
            if key == "type" and not dynamic:
                value = value.lower()
                if value not in MOUNT_TYPES:
                    raise MountError(f"unsupported mount type {value!r}")
                mount_type = value
            if key == "sharing" and not dynamic:
                value = value.lower()
                if value not in SHARING:
                    raise MountError(f"unsupported sharing value {value!r}")
            values[_KEYS[key]] = value
        else:
            raise MountError(f"unexpected key '{key}' in '{item}'")
    for key in ("mode", "uid", "gid"):
        if key in values and mount_type not in ("secret", "ssh", "cache"):
            raise MountError(f'{key} not allowed for "{mount_type}" type mounts')
    if "required" in values and mount_type not in ("secret", "ssh"):
        raise MountError(f"unexpected key 'required' for mount type '{mount_type}'")
    if "size" in values and mount_type != "tmpfs":
        raise MountError(f"unexpected key 'size' for mount type '{mount_type}'")
    if "sharing" in values and mount_type != "cache":
        raise MountError(f"invalid cache sharing set for {mount_type} mount")
    readonly = values.pop("readonly", None)
    required = values.pop("required", None)
    return Mount(
        raw=raw,
        readonly=readonly if isinstance(readonly, bool) else None,
        required=required if isinstance(required, bool) else None,
        **{k: v for k, v in values.items() if isinstance(v, str)},
    )
