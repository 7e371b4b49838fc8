"""Where a lake lives on S3-compatible object storage, and the settings to reach it.

``--data s3://bucket/prefix`` (or ``TRACKIT_DATA``) puts the raw lake and the warehouse's
data files under that prefix. The endpoint, region and credentials are AWS's usual ones,
resolved by boto3 in its usual order: ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` /
``AWS_SESSION_TOKEN``, ``AWS_REGION`` (or ``AWS_DEFAULT_REGION``), ``AWS_ENDPOINT_URL_S3``
(or ``AWS_ENDPOINT_URL``) for a server other than AWS, else the shared config files
(``~/.aws/credentials`` and ``~/.aws/config``, ``AWS_PROFILE``). The secret parts never
appear in a ``repr``, a log line or an error message.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from lake.errors import TrackitError

SCHEME = "s3://"


class ObjectStoreError(TrackitError):
    """Object storage is misconfigured or unreachable."""


def is_object_store(location: str | os.PathLike[str]) -> bool:
    """Whether ``location`` (a ``--data`` value) names object storage."""
    return str(location).startswith(SCHEME)


@dataclass(frozen=True)
class ObjectStoreUrl:
    """``s3://bucket/prefix``: a bucket and a key prefix (no trailing slash, may be empty)."""

    bucket: str
    prefix: str = ""

    @classmethod
    def parse(cls, url: str) -> ObjectStoreUrl:
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc or parts.query or parts.fragment:
            raise ObjectStoreError(f"not an object storage location: {url!r} "
                                   "(expected s3://bucket/prefix)")
        return cls(bucket=parts.netloc, prefix=parts.path.strip("/"))

    def key(self, relative: str) -> str:
        """The object key of ``relative`` (``raw/date=.../x.parquet``) under the prefix."""
        relative = relative.lstrip("/")
        return f"{self.prefix}/{relative}" if self.prefix else relative

    def url(self, relative: str = "") -> str:
        """``s3://bucket/prefix/relative`` (what DuckDB's httpfs reads)."""
        return f"{SCHEME}{self.bucket}/{self.key(relative)}".rstrip("/")

    def __str__(self) -> str:
        return self.url()


@dataclass(frozen=True)
class S3Settings:
    """Endpoint, region and credentials, resolved the way the AWS tools resolve them."""

    region: str | None = None
    endpoint_url: str | None = None
    """``None``: AWS itself; otherwise ``http(s)://host:port`` of an S3-compatible server."""
    access_key_id: str | None = field(default=None, repr=False)
    secret_access_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)

    @classmethod
    def from_environment(cls) -> S3Settings:
        import boto3.session

        session = boto3.session.Session()
        credentials = session.get_credentials()
        frozen = credentials.get_frozen_credentials() if credentials is not None else None
        endpoint = (os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
                    or None)
        return cls(
            region=session.region_name,
            endpoint_url=endpoint,
            access_key_id=frozen.access_key if frozen else None,
            secret_access_key=frozen.secret_key if frozen else None,
            session_token=frozen.token if frozen else None,
        )

    def client(self) -> Any:
        """A boto3 S3 client for these settings (path-style addressing off AWS)."""
        import boto3
        from botocore.config import Config

        config = Config(s3={"addressing_style": "path"} if self.endpoint_url else {},
                        retries={"max_attempts": 5, "mode": "standard"})
        options: dict[str, Any] = {"region_name": self.region or "us-east-1", "config": config}
        if self.endpoint_url:
            options["endpoint_url"] = self.endpoint_url
        if self.access_key_id and self.secret_access_key:
            options.update(aws_access_key_id=self.access_key_id,
                           aws_secret_access_key=self.secret_access_key,
                           aws_session_token=self.session_token)
        return boto3.client("s3", **options)

    def duckdb_secret(self, name: str = "trackit_s3") -> str:
        """``create or replace secret`` for DuckDB's httpfs with these settings.

        Run it, never log it: it holds the secret key."""
        options = {"type": "s3", "region": self.region or "us-east-1"}
        if self.endpoint_url:
            endpoint = urlsplit(self.endpoint_url)
            options.update(endpoint=endpoint.netloc, url_style="path",
                           use_ssl="true" if endpoint.scheme == "https" else "false")
        if self.access_key_id and self.secret_access_key:
            options.update(key_id=self.access_key_id, secret=self.secret_access_key)
            if self.session_token:
                options["session_token"] = self.session_token
        else:
            options["provider"] = "credential_chain"
        body = ", ".join(f"{key} {_literal(value)}" if key not in ("type", "provider",
                                                                  "use_ssl")
                         else f"{key} {value}" for key, value in options.items())
        return f"create or replace temporary secret {name} ({body})"


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
