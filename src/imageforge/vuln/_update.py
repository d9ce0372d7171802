"""``vulndb update``: download the sources over HTTP and rebuild the database from them.

- OSV: ``<osv-url>/<ecosystem>/all.zip`` for each ecosystem (osv.dev's layout; a mirror
  serving the same paths can stand in, ``--osv-url``).
- Debian: the security tracker's JSON export (``--debian-url``).

Each request is conditional on what the last download of that source answered (ETag,
Last-Modified): a 304 keeps the source's records as they are. Every file is downloaded
to a temporary file under ``vulndb/`` first; only when every source downloaded and read
is a new database built beside the old one and renamed over it. A failed download, an
HTTP error, a zip that cannot be opened or a JSON export that does not parse fails the
whole update and leaves the previous database in use."""

from __future__ import annotations

import json
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from imageforge.errors import InvalidArgument, Unavailable
from imageforge.vuln._db import SourceBatch, SourceStatus, VulnDB, db_path, write_sources
from imageforge.vuln._debian_json import read_tracker_json
from imageforge.vuln._model import Advisory
from imageforge.vuln._osv_read import read_osv

if TYPE_CHECKING:  # httpx is imported when an update runs: ~0.1 s a scan need not pay
    import httpx

__all__ = [
    "DEFAULT_DEBIAN_URL",
    "DEFAULT_ECOSYSTEMS",
    "DEFAULT_OSV_URL",
    "MAX_DOWNLOAD_BYTES",
    "UpdateConfig",
    "update",
]

DEFAULT_OSV_URL = "https://osv-vulnerabilities.storage.googleapis.com"
DEFAULT_DEBIAN_URL = "https://security-tracker.debian.org/tracker/data/json"
# Debian is not among them: its data comes from the tracker's export, which has each
# release's status (<no-dsa>, <ignored>, <postponed>), and osv.dev's DEBIAN-CVE-* records
# are that tracker's data under other ids (not aliases of the CVE), so importing both
# would report one problem twice. `--ecosystem Debian` still fetches them.
DEFAULT_ECOSYSTEMS = ("Alpine", "PyPI", "npm", "Go", "Maven", "RubyGems", "crates.io")
MAX_DOWNLOAD_BYTES = 4 * 1024**3
Warn = Callable[[str], None]


@dataclass(frozen=True)
class UpdateConfig:
    osv_url: str = DEFAULT_OSV_URL
    ecosystems: tuple[str, ...] = DEFAULT_ECOSYSTEMS
    debian_url: str | None = DEFAULT_DEBIAN_URL
    timeout: float = 60.0
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _Download:
    name: str
    kind: str
    url: str
    path: Path | None  # None: not modified
    etag: str | None
    last_modified: str | None


def _http_error() -> type[Exception]:
    import httpx

    return httpx.HTTPError


def _fetch(
    client: httpx.Client, name: str, kind: str, url: str, previous: SourceStatus | None, into: Path
) -> _Download:
    headers = {}
    if previous is not None and previous.location == url:
        if previous.etag:
            headers["If-None-Match"] = previous.etag
        if previous.last_modified:
            headers["If-Modified-Since"] = previous.last_modified
    target = into / f"{len(list(into.iterdir()))}.download"
    try:
        with client.stream("GET", url, headers=headers) as response:
            if response.status_code == 304:
                return _Download(
                    name,
                    kind,
                    url,
                    None,
                    previous.etag if previous else None,
                    previous.last_modified if previous else None,
                )
            if response.status_code != 200:
                raise Unavailable(
                    f"downloading {url} failed: HTTP {response.status_code}",
                    hint="the previous vulnerability database is still in use; check the URL "
                    "(--osv-url, --debian-url) and try again",
                )
            size = 0
            with open(target, "wb") as out:
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > MAX_DOWNLOAD_BYTES:
                        raise Unavailable(
                            f"{url} is larger than {MAX_DOWNLOAD_BYTES} bytes; refused"
                        )
                    out.write(chunk)
            return _Download(
                name,
                kind,
                url,
                target,
                response.headers.get("etag"),
                response.headers.get("last-modified"),
            )
    except _http_error() as exc:
        raise Unavailable(
            f"downloading {url} failed: {exc}",
            hint="the previous vulnerability database is still in use; try again later",
        ) from None


def _strict(
    download: _Download, reader: Iterator[Advisory], warnings: list[str]
) -> Iterator[Advisory]:
    count = 0
    for adv in reader:
        count += 1
        yield adv
    if count == 0 and warnings:
        raise InvalidArgument(
            f"{download.url}: nothing could be read from the download ({warnings[-1]})",
            hint="the previous vulnerability database is still in use",
        )


def update(
    root: Path, config: UpdateConfig, warn: Warn, client: httpx.Client | None = None
) -> list[SourceStatus]:
    """Download every source and swap in the database built from them (see above)."""
    previous: dict[str, SourceStatus] = {}
    if db_path(root).is_file():
        try:
            with VulnDB(db_path(root)) as db:
                previous = {s.name: s for s in db.sources()}
        except Exception:  # noqa: BLE001 - an unreadable database is rebuilt from scratch
            previous = {}
    wanted = [
        (f"osv.dev:{eco}", "osv", f"{config.osv_url.rstrip('/')}/{eco}/all.zip")
        for eco in config.ecosystems
    ]
    if config.debian_url:
        wanted.append(("debian-tracker-json:download", "debian-tracker-json", config.debian_url))
    if not wanted:
        raise InvalidArgument("nothing to update: no ecosystem and no Debian URL")
    db_path(root).parent.mkdir(parents=True, exist_ok=True)
    own_client = client is None
    import httpx

    http = client or httpx.Client(
        timeout=config.timeout, follow_redirects=True, headers=config.headers
    )
    try:
        with tempfile.TemporaryDirectory(prefix=".update-", dir=db_path(root).parent) as tmp:
            downloads = [
                _fetch(http, name, kind, url, previous.get(name), Path(tmp))
                for name, kind, url in wanted
            ]
            batches: list[SourceBatch] = []
            for d in downloads:
                if d.path is None:
                    batches.append(
                        SourceBatch(d.name, d.kind, d.url, (), d.etag, d.last_modified, keep=True)
                    )
                    continue
                warnings: list[str] = []

                def note(message: str, _w: list[str] = warnings, _d: _Download = d) -> None:
                    message = message.replace(str(_d.path), _d.url)  # name what the user named
                    _w.append(message)
                    warn(message)

                if d.kind == "osv":
                    if not zipfile.is_zipfile(d.path):
                        raise InvalidArgument(
                            f"{d.url} is not a zip archive (truncated or not osv.dev's all.zip)",
                            hint="the previous vulnerability database is still in use",
                        )
                    reader = read_osv(d.path, source=d.name, warn=note)
                else:
                    try:
                        json.loads(d.path.read_bytes())
                    except ValueError as exc:
                        raise InvalidArgument(
                            f"{d.url} is not valid JSON ({exc})",
                            hint="the previous vulnerability database is still in use",
                        ) from None
                    reader = read_tracker_json(d.path, source=d.name, warn=note)
                batches.append(
                    SourceBatch(
                        d.name, d.kind, d.url, _strict(d, reader, warnings), d.etag, d.last_modified
                    )
                )
            return write_sources(root, batches)
    finally:
        if own_client:
            http.close()
