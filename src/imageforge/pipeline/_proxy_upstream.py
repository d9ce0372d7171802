"""The upstream of a registry's proxy-cache project (``registry.proxy.Upstream``) over
the registry client: its auth (basic, bearer tokens from the upstream's realm), its
timeouts and its retries, kept short (a pull waits on them).

Redirects are never followed blindly: each one's ``Location`` is checked before a
request goes there. Within the upstream's own origin (scheme, host and port) they are
followed. To another host:

- a manifest (and a tag's HEAD) is refused: what a tag names is taken from the upstream
  itself, nobody else;
- a blob is followed, as distribution's proxy and Harbor follow them, because that is
  how registries serve blobs (Docker Hub from its CDN, GHCR from githubusercontent.com,
  distribution on S3 from a presigned URL): the bytes are checked against the digest
  before anything is stored or the last byte reaches a client. The upstream's
  credentials are not sent there, an https upstream may not send the proxy to plain
  http, and an upstream on a public address may not send it to a loopback, private or
  link-local one (the proxy streams a blob to its client before the digest is checked,
  so that would read the registry's own network for the upstream).
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urljoin, urlsplit

from imageforge._httpx import httpx
from imageforge.errors import InvalidArgument, Unavailable
from imageforge.oci import Digest, digest_bytes
from imageforge.registry.proxy import Fetched, UpstreamSpec
from imageforge.remote import MANIFEST_ACCEPT, Client, Credentials

__all__ = ["HttpUpstream"]

MAX_MANIFEST = 4 << 20  # bytes, as the registry accepts on push
_MAX_REDIRECTS = 5
_REDIRECT_STATUS = (301, 302, 303, 307, 308)
_NO_AUTH = httpx.Auth()  # sends nothing: the upstream's credentials stay with it


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _local_address(url: str) -> str | None:
    """An address of ``url``'s host that is not a public one (loopback, private,
    link-local, ...), None if all are public; Unavailable if the host does not resolve."""
    parts = urlsplit(url)
    default = 443 if parts.scheme == "https" else 80
    try:
        found = socket.getaddrinfo(parts.hostname, parts.port or default, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise Unavailable(f"{parts.hostname} does not resolve: {exc}") from None
    for _family, _type, _proto, _name, sockaddr in found:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if not address.is_global:
            return str(address)
    return None


class HttpUpstream:
    """One upstream registry (``registry.proxy.Upstream``)."""

    def __init__(
        self,
        spec: UpstreamSpec,
        *,
        retries: int = 1,
        timeout: float = 60.0,
        tls_verify: bool = True,
    ) -> None:
        parts = urlsplit(spec.url)
        self.base = f"{parts.scheme}://{parts.netloc}"
        self.scheme = parts.scheme
        self.host = parts.netloc
        self._public: bool | None = None  # whether the upstream's addresses are public
        creds = {}
        if spec.username is not None:
            creds[self.host] = Credentials(spec.username, spec.password or "")
        self.client = Client(
            tls_verify=tls_verify,
            credentials=creds,
            retries=retries,
            backoff=0.2,
            timeout=timeout,
            connect_timeout=5.0,
        )

    def close(self) -> None:
        self.client.close()

    def _send(
        self,
        method: str,
        path: str,
        what: str,
        headers: dict[str, str] | None = None,
        *,
        blob: bool = False,
    ) -> httpx.Response:
        url = self.base + path
        for _hop in range(_MAX_REDIRECTS + 1):
            own = _origin(url) == self.base
            resp = self.client.send(
                method,
                self.host,
                url,
                what=what,
                headers=headers if own else None,
                stream=True,
                auth=None if own else _NO_AUTH,
                follow_redirects=False,
            )
            location = resp.headers.get("location")
            if resp.status_code not in _REDIRECT_STATUS or not location:
                try:
                    self.client.check(resp, self.host, what, (200,))
                except BaseException:
                    resp.close()
                    raise
                return resp
            resp.close()
            url = urljoin(url, location)
            self._check_redirect(url, what, blob)
        raise Unavailable(f"{self.base}: {what}: more than {_MAX_REDIRECTS} redirects; refused")

    def _check_redirect(self, url: str, what: str, blob: bool) -> None:
        """Refuse, before following it, a redirect the upstream may not make."""
        if _origin(url) == self.base:
            return
        where = f"{self.base}: {what}: the upstream redirected to {_origin(url)}"
        if not blob:
            raise InvalidArgument(
                f"{where}, another host; refused before following it, nothing was cached",
                hint="a proxy project takes manifests only from its upstream's host",
            )
        scheme = urlsplit(url).scheme
        if scheme not in ("http", "https") or (scheme == "http" and self.scheme == "https"):
            raise InvalidArgument(
                f"{where}: not {self.scheme}; refused before following it, nothing was cached"
            )
        if self._public is None:
            self._public = _local_address(self.base) is None
        local = _local_address(url) if self._public else None
        if local is not None:
            raise InvalidArgument(
                f"{where}, which is {local}, not a public address, while the upstream is"
                " public; refused before following it, nothing was cached",
                hint="a public upstream may send the proxy only to public blob storage",
            )

    def manifest(self, repo: str, ref: str) -> Fetched:
        what = f"manifest {repo}@{ref}" if ":" in ref else f"manifest {repo}:{ref}"
        resp = self._send("GET", f"/v2/{repo}/manifests/{ref}", what, {"Accept": MANIFEST_ACCEPT})
        try:
            body = b""
            for chunk in resp.iter_bytes():
                body += chunk
                if len(body) > MAX_MANIFEST:
                    raise InvalidArgument(
                        f"{self.base}: {what} is larger than {MAX_MANIFEST} bytes; refused"
                    )
        finally:
            resp.close()
        named = resp.headers.get("docker-content-digest")
        media_type = resp.headers.get("content-type", "").split(";")[0].strip()
        try:
            return Fetched(body, media_type, Digest(named) if named else None)
        except InvalidArgument:
            raise InvalidArgument(
                f"{self.base}: {what}: the upstream named an invalid digest {named!r}; refused"
            ) from None

    def head(self, repo: str, tag: str) -> Digest:
        what = f"manifest {repo}:{tag}"
        resp = self._send("HEAD", f"/v2/{repo}/manifests/{tag}", what, {"Accept": MANIFEST_ACCEPT})
        resp.close()
        named = resp.headers.get("docker-content-digest")
        if not named:  # an upstream that names no digest: ask for the manifest itself
            return digest_bytes(self.manifest(repo, tag).body)
        try:
            return Digest(named)
        except InvalidArgument:
            raise InvalidArgument(
                f"{self.base}: {what}: the upstream named an invalid digest {named!r}; refused"
            ) from None

    def blob(self, repo: str, digest: Digest) -> tuple[int | None, _Body]:
        resp = self._send(
            "GET", f"/v2/{repo}/blobs/{digest}", f"blob {digest} of {repo}", blob=True
        )
        length = resp.headers.get("content-length", "")
        return (int(length) if length.isdigit() else None), _Body(resp)


class _Body:
    """A streamed response body read like a file (what the proxy's fetch reads)."""

    def __init__(self, resp: httpx.Response) -> None:
        self._resp = resp
        self._chunks = resp.iter_raw(1 << 20)

    def read(self, size: int, /) -> bytes:  # at most one received chunk, whatever size
        return next(self._chunks, b"")

    def close(self) -> None:
        self._resp.close()
