"""RPM packages from the rpmdb under ``var/lib/rpm`` or ``usr/lib/sysimage/rpm``:
``rpmdb.sqlite`` (rpm >= 4.16: Fedora, RHEL 9), ``Packages.db`` (ndb: SUSE,
:mod:`._rpmndb`) or ``Packages`` (Berkeley DB: RHEL <= 8, :mod:`._rpmbdb`). Each
package is a header blob (:mod:`._rpmheader`).

The database is copied (with its ``-wal`` journal, whose pages may not be checkpointed
yet) into a private temporary directory and opened there with the standard library's
sqlite3, so the target is never written to."""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from imageforge.errors import ImageforgeError
from imageforge.layers import resolve_in_view
from imageforge.sbom._files import FileInfo, Files, Warn
from imageforge.sbom._ids import cpes, purl
from imageforge.sbom._licenses import normalize_license
from imageforge.sbom._model import Package, PackageType
from imageforge.sbom.catalogers._rpmbdb import bdb_blobs
from imageforge.sbom.catalogers._rpmheader import Header, HeaderError, parse_header, tags
from imageforge.sbom.catalogers._rpmndb import ndb_blobs

__all__ = ["RpmCataloger"]

DB_DIRS = ("var/lib/rpm/", "usr/lib/sysimage/rpm/")
SQLITE = "rpmdb.sqlite"
NDB = "Packages.db"
BDB = "Packages"
MAX_DB = 1 << 30
_WANTED = frozenset(
    {
        tags.NAME,
        tags.VERSION,
        tags.RELEASE,
        tags.EPOCH,
        tags.SIZE,
        tags.VENDOR,
        tags.LICENSE,
        tags.ARCH,
        tags.SOURCERPM,
        tags.PROVIDENAME,
        tags.REQUIRENAME,
        tags.DIRINDEXES,
        tags.BASENAMES,
        tags.DIRNAMES,
        tags.URL,
        tags.MODULARITYLABEL,
    }
)


_BlobReader = Callable[[BinaryIO, int], Iterator[tuple[str, "bytes | HeaderError"]]]


def _read_ndb(stream: BinaryIO, size: int) -> Iterator[tuple[str, bytes | HeaderError]]:
    for pkgidx, blob in ndb_blobs(stream, size):
        yield f"package {pkgidx}", blob


def _read_bdb(stream: BinaryIO, size: int) -> Iterator[tuple[str, bytes | HeaderError]]:
    for page, blob in bdb_blobs(stream):
        yield f"hash page {page}", blob


def _db_file(path: str) -> str | None:
    for directory in DB_DIRS:
        if path.startswith(directory) and "/" not in path[len(directory) :]:
            return path[len(directory) :]
    return None


def _files(header: Header) -> tuple[str, ...]:
    dirs, bases, index = (
        header.strings(tags.DIRNAMES),
        header.strings(tags.BASENAMES),
        header.ints(tags.DIRINDEXES),
    )
    out = set()
    for base, i in zip(bases, index, strict=False):
        if 0 <= i < len(dirs):
            out.add((dirs[i] + base).strip("/"))
    return tuple(sorted(x for x in out if x))


def _copy(files: Files, path: str, dest: Path) -> None:
    with files.open(path) as src, dest.open("wb") as out:
        shutil.copyfileobj(src, out, 1 << 20)


class RpmCataloger:
    """``rpm`` packages: purl ``pkg:rpm/NAMESPACE/NAME@VERSION-RELEASE?arch=..&epoch=..
    &upstream=SOURCERPM`` (the run sets the namespace and ``distro=`` from os-release);
    the package version is ``[EPOCH:]VERSION-RELEASE`` as syft reports it."""

    name = "rpm"

    def wants(self, info: FileInfo) -> bool:
        name = _db_file(info.path)
        return name in (SQLITE, f"{SQLITE}-wal", NDB, BDB)

    def catalog(self, files: Files, warn: Warn) -> Iterable[Package]:
        packages: list[Package] = []
        for directory in DB_DIRS:
            sqlite_path = directory + SQLITE
            real = resolve_in_view(files.info, sqlite_path)
            info = None if real is None else files.info(real)
            if real is not None and info is not None and info.kind == "file":
                packages.extend(self._sqlite(files, real, info.size, warn))
                continue
            for name, reader in ((NDB, _read_ndb), (BDB, _read_bdb)):
                real = resolve_in_view(files.info, directory + name)
                info = None if real is None else files.info(real)
                if real is not None and info is not None and info.kind == "file":
                    packages.extend(self._blobs(files, real, info.size, reader, warn))
                    break
        return packages

    def _sqlite(self, files: Files, path: str, size: int, warn: Warn) -> list[Package]:
        if size > MAX_DB:
            warn(path, f"{size} bytes, more than the {MAX_DB >> 20} MiB read; skipped")
            return []
        with tempfile.TemporaryDirectory(prefix="imageforge-rpmdb-") as tmp:
            db = Path(tmp) / SQLITE
            try:
                _copy(files, path, db)
                wal = resolve_in_view(files.info, path + "-wal")
                wal_info = None if wal is None else files.info(wal)
                if wal is not None and wal_info is not None and wal_info.kind == "file":
                    _copy(files, wal, Path(tmp) / f"{SQLITE}-wal")
            except (ImageforgeError, OSError) as exc:
                warn(path, f"cannot read: {exc}")
                return []
            try:
                headers = list(self._rows(db, path, warn))
            except sqlite3.Error as exc:
                warn(path, f"not a readable rpmdb.sqlite: {exc}")
                return []
        return self._packages(files, path, headers)

    def _blobs(
        self, files: Files, path: str, size: int, reader: _BlobReader, warn: Warn
    ) -> list[Package]:
        headers: list[Header] = []
        try:
            with files.open(path) as stream:
                for where, blob in reader(stream, size):
                    if isinstance(blob, HeaderError):
                        warn(path, f"{where}: {blob}; skipped")
                        continue
                    try:
                        headers.append(parse_header(blob, _WANTED))
                    except HeaderError as exc:
                        warn(path, f"{where}: damaged header: {exc}; skipped")
        except HeaderError as exc:
            warn(path, f"not a readable rpmdb: {exc}")
        except (ImageforgeError, OSError) as exc:
            warn(path, f"cannot read: {exc}")
        return self._packages(files, path, headers)

    def _rows(self, db: Path, path: str, warn: Warn) -> Iterator[Header]:
        conn = sqlite3.connect(db)
        try:
            for hnum, blob in conn.execute("SELECT hnum, blob FROM Packages ORDER BY hnum"):
                if not isinstance(blob, bytes):
                    warn(path, f"package {hnum}: no header blob; skipped")
                    continue
                try:
                    yield parse_header(blob, _WANTED)
                except HeaderError as exc:
                    warn(path, f"package {hnum}: damaged header: {exc}; skipped")
        finally:
            conn.close()

    def _packages(self, files: Files, path: str, headers: list[Header]) -> list[Package]:
        providers: dict[str, str] = {}
        for h in headers:
            name = h.string(tags.NAME)
            providers.setdefault(name, name)
            for provided in h.strings(tags.PROVIDENAME):
                providers.setdefault(provided, name)
            for owned in _files(h):
                providers.setdefault("/" + owned, name)
        evidence = files.evidence(path)
        out = []
        for h in headers:
            name, version, release = (
                h.string(tags.NAME),
                h.string(tags.VERSION),
                h.string(tags.RELEASE),
            )
            if not name or not version:
                continue
            epoch = h.int(tags.EPOCH)
            full = f"{version}-{release}" if release else version
            depends = [
                providers[r]
                for r in h.strings(tags.REQUIRENAME)
                if r in providers and providers[r] != name
            ]
            license_text = h.string(tags.LICENSE)
            source_rpm = h.string(tags.SOURCERPM)
            arch = h.string(tags.ARCH)
            vendor = h.string(tags.VENDOR)
            out.append(
                Package(
                    name=name,
                    version=f"{epoch}:{full}" if epoch is not None else full,
                    type=PackageType.RPM,
                    purl=purl(
                        "rpm",
                        name,
                        full,
                        qualifiers={
                            "arch": arch,
                            "epoch": "" if epoch is None else str(epoch),
                            "upstream": source_rpm,
                        },
                    ),
                    cpes=cpes([vendor.split()[0].lower() if vendor else name], [name], full),
                    licenses=(normalize_license(license_text) or license_text,)
                    if license_text
                    else (),
                    evidence=(evidence,),
                    source_name=source_rpm or None,
                    supplier=vendor or None,
                    files=_files(h),
                    depends_on=tuple(dict.fromkeys(depends)),
                    metadata={
                        k: v
                        for k, v in (
                            ("architecture", arch),
                            ("url", h.string(tags.URL)),
                            ("modularityLabel", h.string(tags.MODULARITYLABEL)),
                            ("size", str(h.int(tags.SIZE) or "")),
                        )
                        if v
                    },
                )
            )
        return out
