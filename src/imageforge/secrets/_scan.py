"""Scanning an image (every file of every layer, the config, the history, the
annotations) or a directory for secrets.

An image is read through :meth:`~imageforge.layers.FsView.every_entry`: every layer
once, each file's content while the pass is on it, including files a later layer
deletes or overwrites. The same pass applies each layer's headers to a
:class:`~imageforge.layers.Merger`, whose diffs say which later layer hid each file
that holds a secret (deleted or overwritten) and so what the final filesystem still
shows. A layer that cannot be read is one warning naming it; the files read before the
damage and the other layers are still scanned.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from imageforge.analyze import LayerOrigin, layer_origins
from imageforge.errors import ImageforgeError
from imageforge.layers import (
    Entry,
    EntryType,
    FsView,
    LayerDiff,
    LayerFile,
    Merger,
    parse_whiteout,
)
from imageforge.oci import Image
from imageforge.progress import NULL_PROGRESS, ProgressSink
from imageforge.secrets._config import SecretConfig
from imageforge.secrets._engine import Engine, Hit, is_binary
from imageforge.secrets._prefetch import read_ahead
from imageforge.secrets._result import Hidden, SecretFinding, SecretScanResult

__all__ = ["scan_directory", "scan_image"]

Warn = Callable[[str], None]

# A binary file with one of these names is probably key material in a binary format
# (DER, PKCS#12, a Java keystore): worth a warning, since no rule reads it.
_KEY_LIKE: Final = re.compile(
    r"(?i)\.(der|p12|pfx|jks|keystore|key|pem|gpg|kdbx)$|(^|/)(id_(rsa|dsa|ecdsa|ed25519)|\.env)$"
)


_SNIFF: Final = 8192


def _size(n: int) -> str:
    return f"{n / (1 << 20):.0f} MiB"


@dataclass
class _Found:
    layer: int
    position: int
    path: str
    hit: Hit
    overwritten_here: bool = False


class _FileScan:
    """The part of a scan shared by images and directories: which files are read, the
    binary and size checks, the counts and warnings."""

    def __init__(self, config: SecretConfig, result: SecretScanResult, warn: Warn | None):
        self.config = config
        self.engine: Engine = config.engine()
        self.result = result
        self._warn = warn

    def warning(self, message: str) -> None:
        self.result.warnings.append(message)
        if self._warn is not None:
            self._warn(message)

    def select(
        self, path: str, size: int, read: Callable[[int], bytes], shown: str
    ) -> tuple[frozenset[int], bytes] | None:
        """The rules to try on one file and its first window, or None when it is not
        scanned (allowed by path, too big, binary); ``shown`` is how warnings name it."""
        stats = self.result.stats
        rules = self.engine.rules_for("file", path)
        if rules is None:
            stats.allowed += 1
            return None
        if size > self.config.max_file_size:
            stats.too_big += 1
            self.warning(
                f"{shown}: {_size(size)} is over the {_size(self.config.max_file_size)} "
                "limit of a file scanned for secrets; not scanned "
                "(raise [scan.secrets] max-file-size to scan it)"
            )
            return None
        head = read(_SNIFF)
        if is_binary(head):
            binary_rules = frozenset(i for i in rules if self.engine.rules[i].binary)
            if not binary_rules:
                stats.binary += 1
                if _KEY_LIKE.search(path):
                    self.warning(
                        f"{shown}: binary (key material in DER, PKCS#12 or a keystore?); "
                        "the secret rules read text, so it was not scanned"
                    )
                return None
            rules = binary_rules
        stats.files += 1
        stats.bytes += size
        return rules, head

    def scan(
        self, path: str, size: int, read: Callable[[int], bytes], shown: str
    ) -> list[Hit] | None:
        """The hits in one file (None when it was not read)."""
        chosen = self.select(path, size, read, shown)
        if chosen is None:
            return None
        rules, head = chosen
        return self.engine.scan_stream(read, rules, path, head)


def _finding(hit: Hit, place: str, path: str, **where: object) -> SecretFinding:
    rule = hit.rule
    return SecretFinding(
        rule_id=rule.id,
        category=rule.category,
        title=rule.title,
        severity=rule.severity,
        place=place,
        path=path,
        line=hit.line,
        match=hit.snippet,
        secret=hit.masked,
        **where,  # type: ignore[arg-type]
    )


# -- the image config -----------------------------------------------------------------

_BUILD_ARGS: Final = re.compile(r"^\|([0-9]+) ")


def _build_args(created_by: str) -> list[str]:
    """The ``NAME=value`` build arguments Docker records before a RUN's command
    (``|2 A=1 B=2 /bin/sh -c ...``)."""
    m = _BUILD_ARGS.match(created_by)
    if m is None:
        return []
    words = created_by[m.end() :].split(" ")
    return [w for w in words[: int(m.group(1))] if "=" in w]


def _config_texts(image: Image) -> Iterator[tuple[str, str, str, str]]:
    """(place, rules' place, name, text) of every config value a secret can hide in."""
    cfg = image.config()
    runtime = cfg.config
    for item in runtime.get("Env") or []:
        if isinstance(item, str):
            yield "env", "env", item.partition("=")[0], item
    for key, value in (runtime.get("Labels") or {}).items():
        yield "label", "label", str(key), f"{key}={value}"
    for key in ("Entrypoint", "Cmd"):
        value = runtime.get(key)
        if isinstance(value, list):
            yield "cmd", "cmd", key, " ".join(str(v) for v in value)
    for i, step in enumerate(cfg.history, 1):
        text = step.created_by or ""
        if text:
            yield "history", "history", f"step {i}", text
        for arg in _build_args(text):
            yield "history", "env", f"step {i} build argument {arg.partition('=')[0]}", arg
    for key, value in image.manifest().annotations.items():
        yield "annotation", "annotation", key, f"{key}={value}"


def _scan_config(image: Image, files: _FileScan) -> set[bytes]:
    """The secrets of the config (as findings in the result); returns their values."""
    engine = files.engine
    seen: set[tuple[str, str, bytes]] = set()
    for place, rules_place, name, text in _config_texts(image):
        rules = engine.rules_for(rules_place, name)
        if rules is None:
            continue
        for hit in engine.scan_text(text.encode("utf-8", "surrogateescape"), rules, None):
            key = (hit.rule.id, place, hit.raw)
            if key in seen:  # the same value in ENV and the history step that set it
                continue
            seen.add(key)
            files.result.findings.append(_finding(hit, place, name))
    return {raw for _, _, raw in seen}


# -- the layers -------------------------------------------------------------------------


class _Hiders:
    """Which later layer hid each (layer, path): from the diffs of a Merger fed the
    headers of every layer the view could read."""

    def __init__(self) -> None:
        self.merger = Merger()
        self.hidden: dict[tuple[int, str], tuple[int, str]] = {}

    def apply(self, index: int, entries: list[Entry]) -> None:
        diff: LayerDiff = self.merger.apply(index, entries)
        removed = {id(n) for n in diff.removed}
        for node in diff.hidden:
            if node.layer != index:
                how = "deleted" if id(node) in removed else "overwritten"
                self.hidden.setdefault((node.layer, node.path), (index, how))


def scan_image(
    image: Image,
    config: SecretConfig | None = None,
    *,
    target: str | None = None,
    progress: ProgressSink = NULL_PROGRESS,
    warn: Warn | None = None,
    view: FsView | None = None,
) -> SecretScanResult:
    """Every secret in ``image``: in each file of each layer (those a later layer
    deleted or overwrote too), in ``Env``, labels, ``Entrypoint``/``Cmd``, history
    steps (and the build arguments they record) and manifest annotations. Findings
    name the layer, its history step and, for a hidden file, the layer that hid it.
    ``warn`` hears each warning as it happens (they are in the result too). ``view``:
    a filesystem view of ``image`` the caller made (and closes), which the pass leaves
    indexed for its next reader (the image configuration checks); the caller's
    ``on_bad_layer`` hears of damaged layers then."""
    config = config or SecretConfig()
    result = SecretScanResult(target or str(image.digest), [])
    files = _FileScan(config, result, warn)
    result.rules = files.engine.rules
    values = _scan_config(image, files)
    origins = layer_origins(image)

    bad: set[int] = set()

    def on_bad(index: int, exc: ImageforgeError) -> None:
        bad.add(index)
        files.warning(f"{exc.message}; its other files and the other layers were scanned")

    found: list[_Found] = []
    # each layer's headers, for working out which later layer hid a finding's file; the
    # Merger runs over them only when a finding is in a layer with another above it
    headers: dict[int, list[Entry]] = {}
    here: dict[str, list[_Found]] = {}  # this layer's findings by path
    own = view is None
    if view is None:
        view = FsView(image, on_bad_layer=on_bad, progress=progress, progress_key="secrets")
    key = "secrets-layers"
    progress.start(key, "scanning layers for secrets", len(origins), "layers")

    def choose(lf: LayerFile) -> tuple[frozenset[int], bytes] | None:
        entry = lf.entry
        if entry.type is not EntryType.FILE or not entry.size:
            return None
        if parse_whiteout(entry.path) is not None:
            return None
        return files.select(
            entry.path, entry.size, lf.read, f"/{entry.path} in layer {lf.index + 1}"
        )

    current = -1
    try:
        for ahead in read_ahead(view, choose):
            if ahead.index != current:
                if current >= 0:
                    progress.advance(key)
                current, here = ahead.index, {}
                headers[current] = []
            entry = ahead.entry
            headers[current].append(entry)
            if entry.path in here:  # the layer writes the path again: it hides what was
                for f in here.pop(entry.path):
                    f.overwritten_here = True
            if ahead.rules is None or ahead.read is None:
                continue
            try:
                hits = files.engine.scan_stream(ahead.read, ahead.rules, entry.path, ahead.head)
            except ImageforgeError:
                continue  # the view reports the damaged layer when it reads on
            for hit in hits:
                f = _Found(ahead.index, ahead.position, entry.path, hit)
                found.append(f)
                here.setdefault(entry.path, []).append(f)
    finally:
        if own:
            view.close()
        progress.done(key)

    hiders = _Hiders()
    if any(f.layer < max(headers) for f in found):
        for index in sorted(headers):
            if index not in bad and index not in view.bad_layers:
                hiders.apply(index, headers[index])
    for f in found:
        origin = origins[f.layer] if f.layer < len(origins) else None
        hidden = _hidden(f, hiders, origins)
        result.findings.append(_finding(f.hit, "file", "/" + f.path, layer=origin, hidden=hidden))
        values.add(f.hit.raw)
    result.redact(values)
    result.sort()
    return result


def _hidden(f: _Found, hiders: _Hiders, origins: list[LayerOrigin]) -> Hidden | None:
    if f.overwritten_here:
        return Hidden(origins[f.layer], "overwritten", same_layer=True)
    later = hiders.hidden.get((f.layer, f.path))
    if later is None:
        return None
    return Hidden(origins[later[0]], later[1])


# -- a directory ------------------------------------------------------------------------


def _walk(root: Path, warn: Callable[[str], None]) -> Iterator[tuple[str, os.stat_result]]:
    """(relative path, lstat) of every regular file under ``root``, symlinks not
    followed, in a stable order."""

    def on_error(exc: OSError) -> None:
        warn(f"{exc.filename}: cannot be listed: {exc.strerror}; not scanned")

    for top, dirs, names in os.walk(root, onerror=on_error):
        dirs.sort()
        for name in sorted(names):
            full = os.path.join(top, name)
            try:
                st = os.lstat(full)
            except OSError as exc:
                warn(f"{full}: {exc.strerror}; not scanned")
                continue
            if stat.S_ISREG(st.st_mode):
                yield os.path.relpath(full, root), st


def scan_directory(
    root: str | Path,
    config: SecretConfig | None = None,
    *,
    target: str | None = None,
    warn: Warn | None = None,
) -> SecretScanResult:
    """Every secret in the regular files under ``root`` (a root filesystem or a
    project; symlinks are not followed). A file that cannot be read is one warning
    naming it."""
    base = Path(root)
    config = config or SecretConfig()
    result = SecretScanResult(target or str(base), [])
    files = _FileScan(config, result, warn)
    result.rules = files.engine.rules
    values: set[bytes] = set()
    for rel, st in _walk(base, files.warning):
        path = rel.replace(os.sep, "/")
        try:
            with open(base / rel, "rb", buffering=0) as fh:
                hits = files.scan(path, st.st_size, fh.read, path)
        except OSError as exc:
            files.warning(f"{path}: cannot be read: {exc.strerror or exc}; not scanned")
            continue
        for hit in hits or ():
            result.findings.append(_finding(hit, "file", path))
            values.add(hit.raw)
    result.redact(values)
    result.sort()
    return result
