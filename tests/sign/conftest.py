"""Registries for the signing tests: imageforge's own and Debian's distribution 2.8 (no
referrers API), each logged in; a store holding ``hello:1`` and ``hello:2`` (the same
files, one byte changed); a key pair written as ``imageforge key generate`` writes it."""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from imageforge.layers import BlobImage
from imageforge.oci import Digest, Reference
from imageforge.pipeline import Session, copy, key_signer
from imageforge.remote import Credentials, push, registry_host, save_credentials
from imageforge.sign import (
    SignatureObject,
    SignedLayer,
    Signer,
    generate_key,
    read_signed_layers,
    signature_manifest,
    signature_tag,
)
from tests.conftest import run_cli
from tests.registry.conftest import ADMIN_PASSWORD, Server
from tests.remote.conftest import (
    DIST_PASSWORD,
    DIST_USER,
    EXAMPLES,
    Distribution,
    ok,
)
from tests.remote.conftest import authfile as authfile
from tests.remote.conftest import distribution as distribution
from tests.remote.conftest import ours as ours

PASSWORD = "correct horse"
NO_TLS = "--tls-verify=false"


@dataclass
class Registry:
    kind: str  # "ours" or "distribution"
    host: str
    root: Path  # a store holding hello:1 and hello:2
    env: dict[str, str]  # COSIGN_PASSWORD

    def ref(self, name: str) -> str:
        project = "library" if self.kind == "ours" else "team"
        return f"{self.host}/{project}/{name}"

    def session(self) -> Session:
        return Session(self.root, tls_verify=False)

    def push(self, image: str, name: str) -> str:
        """Push the store's ``image`` to ``name`` in this registry; its digest."""
        with self.session() as s:
            return str(copy(s, image, f"docker://{self.ref(name)}"))

    def cli(self, *args: str) -> list[str]:
        return ["--root", str(self.root), *args, NO_TLS]


@pytest.fixture(scope="session")
def two_images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store root with ``hello:1`` and ``hello:2``, whose README differs in one byte."""
    base = tmp_path_factory.mktemp("two-images")
    changed = base / "rootfs"
    shutil.copytree(EXAMPLES / "hello-rootfs", changed, symlinks=True)
    readme = changed / "usr" / "share" / "hello" / "README"
    data = bytearray(readme.read_bytes())
    data[0] ^= 0x01
    readme.write_bytes(bytes(data))
    root = base / "root"
    for source, name in ((EXAMPLES / "hello-rootfs", "hello:1"), (changed, "hello:2")):
        ok(run_cli(["--root", str(root), "import", f"rootfs:{source}", "-t", name]))
    return root


@pytest.fixture
def images_root(tmp_path: Path, two_images: Path) -> Path:
    """A store of this test's own holding the two images (a copy of the session's)."""
    root = tmp_path / "root"
    shutil.copytree(two_images, root, symlinks=True)
    return root


def password_signer(keys: KeyPair) -> Signer:
    """The private key of ``keys``, opened with the tests' password."""
    return key_signer(keys.private, lambda _: PASSWORD.encode())


@pytest.fixture(params=["ours", "distribution"])
def registry(request: pytest.FixtureRequest, images_root: Path) -> Iterator[Registry]:
    """Each registry in turn, logged in (credentials in this test's auth file)."""
    # the server first: distribution reads REGISTRY_* variables as its configuration,
    # and the authfile fixture sets REGISTRY_AUTH_FILE
    server = request.getfixturevalue(request.param)
    authfile = request.getfixturevalue("authfile")
    yield logged_in(server, images_root, authfile)


def logged_in(server: Server | Distribution, root: Path, authfile: Path) -> Registry:
    """``server`` with its user's credentials in ``authfile``, images from ``root``."""
    if isinstance(server, Server):
        save_credentials(server.host, Credentials("admin", ADMIN_PASSWORD), authfile)
        return Registry("ours", server.host, root, {"COSIGN_PASSWORD": PASSWORD})
    save_credentials(server.host, Credentials(DIST_USER, DIST_PASSWORD), authfile)
    return Registry("distribution", server.host, root, {"COSIGN_PASSWORD": PASSWORD})


@dataclass(frozen=True)
class KeyPair:
    private: Path
    public: Path


def write_pair(directory: Path, algorithm: str = "ecdsa-p256") -> KeyPair:
    """A key pair as ``key generate`` writes it (cosign's envelope, PASSWORD)."""
    directory.mkdir(parents=True, exist_ok=True)
    key = generate_key(algorithm)
    pair = KeyPair(directory / "cosign.key", directory / "cosign.pub")
    pair.private.write_bytes(key.to_cosign_pem(PASSWORD.encode()))
    pair.public.write_bytes(key.public_key().to_pem())
    return pair


@pytest.fixture
def keys(tmp_path: Path) -> KeyPair:
    return write_pair(tmp_path / "keys")


def signature_layers(s: Session, registry: Registry, digest: str) -> list[SignedLayer]:
    ref = Reference.parse(registry.ref("hello"))
    host = registry_host(ref.domain)
    raw, _, _ = s.client.get_manifest(host, ref.path, signature_tag(digest))

    def blob(d: Digest) -> bytes:
        with s.client.open_blob(host, ref.path, d) as f:
            return f.read()

    return read_signed_layers(raw, blob)  # the signed payloads of the image's .sig tag


def put_signatures(s: Session, registry: Registry, digest: str, layers: list[SignedLayer]) -> None:
    """Replace the image's ``.sig`` manifest with one holding ``layers`` (what someone
    with push access to the repository can do)."""
    obj: SignatureObject = signature_manifest(layers)
    blobs = obj.blobs
    image = BlobImage(lambda d: io.BytesIO(blobs[d]), obj.manifest_bytes, validate=False)
    ref = Reference.parse(registry.ref("hello")).with_tag(signature_tag(digest))
    push(s.client, image, ref)
