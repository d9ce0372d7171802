"""The data directory is the registry user's alone (finding 9 of issue 19): metadata,
blobs and uploads cannot be read by other local users, and the token signing key is in
its own 0600 file; a data directory made by an earlier version is tightened and its
key (kept readable in meta.db) replaced at the next start."""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest

from imageforge.oci import digest_bytes
from tests.conftest import requires_root
from tests.registry.conftest import Server, make_server
from tests.registry.test_api import _image, _put

KEY = "token-signing.key"


def _modes(top: Path) -> dict[str, int]:
    out = {".": stat.S_IMODE(top.stat().st_mode)}
    for path in top.rglob("*"):
        if not path.is_symlink():
            out[str(path.relative_to(top))] = stat.S_IMODE(path.lstat().st_mode)
    return out


def _as_nobody(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["runuser", "-u", "nobody", "--", *args],
        capture_output=True,
        text=True,
        errors="replace",  # ``cat`` of a database file prints binary pages
        check=False,
    )


@pytest.fixture
def open_parent() -> Iterator[Path]:
    """A directory other users may traverse (pytest's own tmp is 0700, which would hide
    any mistake), so what protects the data directory is its own modes."""
    base = Path(tempfile.mkdtemp(prefix="imageforge-reg-"))
    base.chmod(0o755)
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _push_and_abandon(srv: Server) -> str:
    """Push an image and leave an upload half done; the image's digest."""
    with srv.client() as c:
        body = _image(c, "library/app", b"secret layer")
        assert _put(c, "library/app", "v1", body).status_code == 201
        loc = c.post("/v2/library/app/blobs/uploads/").headers["location"]
        assert c.patch(loc, content=b"half an upload").status_code == 202
    return str(digest_bytes(body))


@requires_root
def test_another_local_user_reads_nothing_of_the_data_directory(
    open_parent: Path, registry_db: str | None
) -> None:
    srv = make_server(open_parent / "registry")
    srv.start()
    try:
        _push_and_abandon(srv)
        data = srv.data_dir
        modes = _modes(data)
        loose = {p: oct(m) for p, m in modes.items() if m & 0o077}
        assert loose == {}, loose
        assert modes[KEY] == 0o600
        assert all(m == 0o400 for p, m in modes.items() if p.startswith("storage/blobs/sha256/"))
        if registry_db is None:
            assert modes["meta.db"] == 0o600
            # the key is not in the database any more
            with sqlite3.connect(data / "meta.db") as db:
                assert (
                    db.execute("SELECT value FROM settings WHERE key = 'token_key'").fetchall()
                    == []
                )
        # the attack: another local user tries to read the metadata, the key, a blob
        blob = next((data / "storage" / "blobs" / "sha256").iterdir())
        for target in (data / "meta.db", data / KEY, blob):
            r = _as_nobody("cat", str(target))
            assert r.returncode != 0 and "Permission denied" in r.stderr, r
        r = _as_nobody("ls", str(data))
        assert r.returncode != 0 and "Permission denied" in r.stderr
    finally:
        srv.stop()


@requires_root
def test_data_directory_of_an_earlier_version_is_tightened_and_its_key_replaced(
    open_parent: Path,
) -> None:
    srv = make_server(open_parent / "registry")
    srv.start()
    digest = _push_and_abandon(srv)
    srv.stop()
    data = srv.data_dir
    # As an earlier version left it: everything readable by everyone, blobs 0444, the
    # signing key in meta.db's settings and no key file.
    old_key = "ab" * 32
    (data / KEY).unlink()
    with sqlite3.connect(data / "meta.db") as db:
        db.execute("INSERT INTO settings VALUES ('token_key', ?)", (old_key,))
    for path in [data, *data.rglob("*")]:
        if path.is_dir():
            path.chmod(0o755)
        elif "blobs" in path.parts:
            path.chmod(0o444)
        else:
            path.chmod(0o644)
    assert _as_nobody("cat", str(data / "meta.db")).returncode == 0  # the finding

    srv.start()
    try:
        log = srv.log()
        assert "was open to other users; restricted it" in log
        assert "the token signing key was kept in the metadata database" in log
        assert {p: oct(m) for p, m in _modes(data).items() if m & 0o077} == {}
        for target in (data / "meta.db", data / KEY):
            assert _as_nobody("cat", str(target)).returncode != 0
        with sqlite3.connect(data / "meta.db") as db:
            assert db.execute("SELECT value FROM settings WHERE key = 'token_key'").fetchall() == []
        new_key = (data / KEY).read_text().strip()
        assert len(new_key) == 64 and new_key != old_key
        # whoever read the old key cannot forge a token with it
        forged = jwt.encode(
            {
                "iss": "imageforge",
                "aud": "imageforge-registry",
                "sub": "admin",
                "exp": 2**33,
                "ver": "",
                "access": [{"type": "repository", "name": "library/app", "actions": ["pull"]}],
            },
            old_key,
            algorithm="HS256",
        )
        r = httpx.get(
            f"{srv.url}/v2/library/app/manifests/v1", headers={"Authorization": f"Bearer {forged}"}
        )
        assert r.status_code == 401 and "invalid_token" in r.headers["www-authenticate"]
        # everything stored before is still served
        with srv.client() as c:
            r = c.get("/v2/library/app/manifests/v1")
            assert r.status_code == 200 and r.headers["docker-content-digest"] == digest
    finally:
        srv.stop()
    # a second start changes nothing and says nothing
    before = srv.log()
    srv.start()
    srv.stop()
    after = srv.log()[len(before) :]
    assert "restricted" not in after and "signing key" not in after
    assert (data / KEY).read_text().strip() == new_key


def test_a_broken_key_file_is_refused_clearly(tmp_path: Path) -> None:
    from tests.conftest import run_cli

    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    (data / KEY).write_text("not a key\n")
    r = run_cli(["registry", "serve", "--data-dir", str(data), "--addr", "127.0.0.1:1"])
    assert r.returncode == 2, r.stderr
    assert f"{data / KEY}: not a token signing key" in r.stderr
    assert (data / KEY).read_text() == "not a key\n"  # nothing overwritten
    os.unlink(data / KEY)
