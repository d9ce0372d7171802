"""Running the checks on an image: the facts read once (headers of every layer, and
``/etc/passwd`` when USER names a user), then every check not switched off."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from imageforge.analyze import LayerOrigin, layer_origins
from imageforge.errors import ImageforgeError
from imageforge.layers import FsView
from imageforge.misconfig._checks import CHECKS
from imageforge.misconfig._model import Check, ImageFacts, MisconfigFinding, MisconfigResult
from imageforge.oci import Image
from imageforge.policy import MisconfigPolicy
from imageforge.progress import NULL_PROGRESS, ProgressSink

__all__ = ["active_checks", "base_layer_count", "check_image"]

# History steps that lay down a whole root filesystem: the layers of a base image.
_ROOTFS_STEP: Final = re.compile(
    r"^(/bin/sh -c )?#\(nop\) ADD file:|^ADD file:|^ADD [^ ]*rootfs[^ ]* /|"
    r"^imageforge (bootstrap|import) |^COPY rootfs|^debootstrap|^Imported from"
)


def base_layer_count(layers: Sequence[LayerOrigin]) -> int:
    """How many bottom layers belong to the base image, guessed from the history: the
    leading layers made by a step that lays down a whole root filesystem (Docker's
    ``ADD file:... in /``, ``imageforge bootstrap``/``import``); at least the first
    layer of a multi-layer image. ``[scan.misconfig] base-layers`` overrides it."""
    count = 0
    for origin in layers:
        if origin.created_by is None or not _ROOTFS_STEP.search(origin.created_by.strip()):
            break
        count += 1
    if count == 0 and len(layers) > 1:
        count = 1
    return count


def _users(view: FsView) -> dict[str, int]:
    try:
        text = view.read("etc/passwd").decode("utf-8", "replace")
    except ImageforgeError:
        return {}
    users: dict[str, int] = {}
    for line in text.splitlines():
        parts = line.split(":")
        if len(parts) >= 3 and parts[2].isdigit():
            users.setdefault(parts[0], int(parts[2]))
    return users


def active_checks(policy: MisconfigPolicy) -> list[tuple[Check, str]]:
    """The checks ``policy`` leaves on, each with the severity it gives."""
    severity = dict(policy.severity)
    return [
        (c, severity.get(c.id, c.severity))
        for c in CHECKS
        if not any(c.id.startswith(prefix) for prefix in policy.disable)
    ]


def check_image(
    image: Image,
    policy: MisconfigPolicy | None = None,
    *,
    view: FsView | None = None,
    base_layers: int | None = None,
    target: str | None = None,
    progress: ProgressSink = NULL_PROGRESS,
) -> MisconfigResult:
    """Run every check on ``image``. ``view`` is a filesystem view of it already made
    (the secret scan's, so the layers are not read again); ``base_layers`` the number of
    layers of its base image when the caller knows it (else ``policy.base_layers``, else
    :func:`base_layer_count`). A layer that cannot be read is a warning; the checks run
    on the others."""
    policy = policy or MisconfigPolicy()
    result = MisconfigResult(target or str(image.digest), [], checks=active_checks(policy))
    config = image.config()
    origins = layer_origins(image)
    own = view is None
    if view is None:

        def on_bad(index: int, exc: ImageforgeError) -> None:
            result.warnings.append(f"{exc.message}; the checks ran on the other layers")

        view = FsView(image, on_bad_layer=on_bad, progress=progress, progress_key="misconfig")
    try:
        nodes = view.nodes
        runtime = config.config
        user = str(runtime.get("User") or "").split(":", 1)[0]
        users = _users(view) if user and not user.isdigit() else {}
    finally:
        if own:
            view.close()
    if base_layers is None:
        base_layers = policy.base_layers
    if base_layers is None:
        base_layers = base_layer_count(origins)
    facts = ImageFacts(
        runtime=runtime,
        annotations=dict(image.manifest().annotations),
        history=[h.created_by or "" for h in config.history],
        layers=origins,
        nodes=nodes,
        users=users,
        base_layers=base_layers,
    )
    for check, severity in result.checks:
        for hit in check.run(facts):
            result.findings.append(
                MisconfigFinding(
                    id=check.id,
                    slug=check.slug,
                    severity=severity,
                    title=check.title,
                    message=f"{check.title}: {hit.detail}",
                    hint=check.hint,
                    target=hit.target,
                    layer=hit.layer,
                )
            )
    result.sort()
    return result
