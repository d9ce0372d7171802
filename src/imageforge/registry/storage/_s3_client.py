"""Where an S3 storage is (``s3://BUCKET/PREFIX?endpoint=URL&region=R``), its client, and
the translation of S3's failures into imageforge's errors.

Credentials never come from the URL (it is shown in logs and ``ps``): boto3 reads them
from its usual places, ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` or
``AWS_SHARED_CREDENTIALS_FILE``/``AWS_PROFILE``. Transient failures (5xx, throttling,
timeouts, dropped connections) are retried by botocore's standard retry mode with
backoff; what still fails becomes ``Unavailable``, with a hint naming the bucket.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from imageforge.errors import Conflict, InvalidArgument, NotFound, Unavailable

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = ["S3Location", "precondition_failed", "s3_errors"]

_NOT_FOUND = {"404", "NoSuchKey", "NotFound", "NoSuchUpload"}
_REFUSED = {
    "403",
    "AccessDenied",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "InvalidToken",
    "ExpiredToken",
}
_OPTIONS = {"endpoint", "region", "attempts", "timeout"}


@dataclass(frozen=True)
class S3Location:
    bucket: str
    prefix: str = ""
    endpoint: str | None = None
    region: str = "us-east-1"
    attempts: int = 5  # tries of one request (botocore's standard mode, with backoff)
    timeout: float = 60.0  # seconds to connect, and between bytes of a response

    @classmethod
    def parse(cls, url: str) -> S3Location:
        """``s3://BUCKET[/PREFIX][?endpoint=URL&region=R&attempts=N&timeout=S]``."""
        parts = urlsplit(url)
        hint = "write it as s3://BUCKET/PREFIX?endpoint=http://HOST:PORT"
        if parts.scheme != "s3" or not parts.netloc:
            raise InvalidArgument(f"storage {url!r} is not an s3:// URL with a bucket", hint=hint)
        if parts.username or parts.password:
            raise InvalidArgument(
                "storage URL must not carry credentials",
                hint="set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or a credentials file)",
            )
        query = parse_qs(parts.query, strict_parsing=False)
        unknown = set(query) - _OPTIONS
        if unknown:
            raise InvalidArgument(
                f"storage URL has unknown options: {', '.join(sorted(unknown))}",
                hint=f"known: {', '.join(sorted(_OPTIONS))}",
            )

        def one(name: str) -> str | None:
            return query[name][-1] if name in query else None

        try:
            attempts = int(one("attempts") or 5)
            timeout = float(one("timeout") or 60)
        except ValueError:
            raise InvalidArgument(
                f"storage URL {url!r}: attempts and timeout are numbers"
            ) from None
        if attempts < 1 or timeout <= 0:
            raise InvalidArgument(f"storage URL {url!r}: attempts >= 1 and timeout > 0")
        prefix = parts.path.strip("/")
        return cls(
            parts.netloc,
            prefix + "/" if prefix else "",
            one("endpoint"),
            one("region") or "us-east-1",
            attempts,
            timeout,
        )

    def __str__(self) -> str:
        where = f" at {self.endpoint}" if self.endpoint else ""
        return f"s3://{self.bucket}/{self.prefix}{where}"

    def client(self) -> S3Client:
        config = Config(
            retries={"mode": "standard", "max_attempts": self.attempts},
            connect_timeout=self.timeout,
            read_timeout=self.timeout,
            s3={"addressing_style": "path"},
            signature_version="s3v4",
            # A part or object body is sent once with its length; SeaweedFS and other
            # S3 servers do not all take the aws-chunked trailing checksums.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        return boto3.session.Session().client(
            "s3", endpoint_url=self.endpoint, region_name=self.region, config=config
        )


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def precondition_failed(exc: ClientError) -> bool:
    """A conditional write lost (If-Match / If-None-Match did not hold)."""
    return error_code(exc) in {"PreconditionFailed", "412", "ConditionalRequestConflict"}


@contextlib.contextmanager
def s3_errors(location: S3Location, what: str) -> Iterator[None]:
    """Translate S3's failures of ``what`` into imageforge's errors: NotFound for a
    missing key, Unavailable for refused credentials, a missing bucket, or failures
    left after the retries."""
    try:
        yield
    except ClientError as exc:
        code = error_code(exc)
        message = exc.response.get("Error", {}).get("Message", "") or code
        if code == "NoSuchBucket":
            raise Unavailable(
                f"S3 bucket {location.bucket!r} does not exist ({what})",
                hint=f"create it, or point --storage at an existing bucket ({location})",
            ) from None
        if code in _NOT_FOUND:
            raise NotFound(f"{what}: not found in {location}") from None
        if code in _REFUSED:
            raise Unavailable(
                f"S3 refused the credentials for {what} ({code}: {message})",
                hint="check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or the credentials "
                f"file) and the bucket policy of {location}",
            ) from None
        if precondition_failed(exc):
            raise Conflict(f"{what}: changed by another process meanwhile") from None
        raise Unavailable(
            f"S3 failed {what}: {code} {message}",
            hint=f"{location} kept failing after the retries; try again later",
        ) from None
    except NoCredentialsError:
        raise Unavailable(
            f"no S3 credentials for {what}",
            hint="set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_SHARED_CREDENTIALS_FILE",
        ) from None
    except BotoCoreError as exc:
        raise Unavailable(
            f"S3 unreachable for {what}: {exc}",
            hint=f"is the S3 endpoint of {location} up and reachable?",
        ) from None
