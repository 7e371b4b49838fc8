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

import logging
import os
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from lake.errors import TrackitError
from lake.redaction import register_secret

SDK_LOGGERS = ("boto3", "botocore", "s3transfer", "urllib3")

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
        for secret in (frozen.secret_key, frozen.token) if frozen else ():
            if secret:
                register_secret(secret)  # masked in every log line from now on
        return cls(
            region=session.region_name,
            endpoint_url=endpoint,
            access_key_id=frozen.access_key if frozen else None,
            secret_access_key=frozen.secret_key if frozen else None,
            session_token=frozen.token if frozen else None,
        )

    @property
    def has_keys(self) -> bool:
        """Whether credentials were found (else DuckDB tries its own credential chain)."""
        return bool(self.access_key_id and self.secret_access_key)

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
        if self.has_keys:
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


class ObjectExistsError(TrackitError):
    """A create-only write found another object under its key."""


@dataclass(frozen=True)
class ListedObject:
    """One object of a listing: its key relative to the lake's prefix, and its size."""

    relative: str
    size: int


class ObjectStore:
    """The lake's objects under one ``s3://bucket/prefix``: create-only writes, listings
    bounded by ``Prefix``/``StartAfter``, reads and deletes. Keys are given relative to the
    prefix (``raw/date=.../x.parquet``). Every failure is an :class:`ObjectStoreError`
    naming the ``s3://`` location, never a credential."""

    def __init__(self, url: ObjectStoreUrl, settings: S3Settings | None = None) -> None:
        quiet_sdk_loggers()
        self.url = url
        self.settings = settings or S3Settings.from_environment()
        self.client = self.settings.client()

    def put_create_only(self, relative: str, body: bytes) -> bool:
        """Publish ``body`` under ``relative`` with one ``If-None-Match: *`` PUT.

        Returns ``True`` when written, ``False`` when an identical object (same size and
        MD5) was already there (the same file published again after a crash).

        Raises:
            ObjectExistsError: another object is there; it is left unchanged.
        """
        import base64
        import hashlib

        from botocore.exceptions import ClientError

        key = self.url.key(relative)
        digest = hashlib.md5(body, usedforsecurity=False)
        try:
            self._call("publishing", relative, self.client.put_object, Bucket=self.url.bucket,
                       Key=key, Body=body, IfNoneMatch="*",
                       ContentMD5=base64.b64encode(digest.digest()).decode())
            return True
        except _Conflict:
            pass
        try:
            head = self.client.head_object(Bucket=self.url.bucket, Key=key)
        except ClientError as exc:
            raise self._error("checking", relative, exc) from None
        if (head.get("ContentLength") == len(body)
                and head.get("ETag", "").strip('"') == digest.hexdigest()):
            return False
        raise ObjectExistsError(
            f"another writer published {self.url.url(relative)} with other content; it is "
            "left unchanged"
        )

    def list(self, prefix: str, *, start_after: str | None = None,
             delimiter: str | None = None) -> Any:
        """Objects (``ListedObject``) whose relative key starts with ``prefix``, after
        ``start_after`` (a relative key), in key order; with ``delimiter``, the common
        prefixes (relative, ``str``) instead."""
        options: dict[str, Any] = {"Bucket": self.url.bucket, "Prefix": self.url.key(prefix)
                                   if prefix else self._root_prefix()}
        if start_after:
            options["StartAfter"] = self.url.key(start_after)
        if delimiter:
            options["Delimiter"] = delimiter
        skip = len(self._root_prefix())
        token: str | None = None
        while True:
            page = self._call("listing", prefix, self.client.list_objects_v2,
                              **options, **({"ContinuationToken": token} if token else {}))
            if delimiter:
                for common in page.get("CommonPrefixes", []):
                    yield common["Prefix"][skip:]
            else:
                for item in page.get("Contents", []):
                    yield ListedObject(item["Key"][skip:], int(item["Size"]))
            if not page.get("IsTruncated"):
                return
            token = page["NextContinuationToken"]

    def read(self, relative: str) -> bytes:
        """The whole body of one object."""
        page = self._call("reading", relative, self.client.get_object,
                          Bucket=self.url.bucket, Key=self.url.key(relative))
        body: bytes = page["Body"].read()
        return body

    def download(self, relative: str, target: os.PathLike[str] | str) -> None:
        """Copy one object into the local file ``target``."""
        self._call("reading", relative, self.client.download_file, self.url.bucket,
                   self.url.key(relative), os.fspath(target))

    def delete(self, relative: str) -> None:
        self._call("deleting", relative, self.client.delete_object, Bucket=self.url.bucket,
                   Key=self.url.key(relative))

    def _root_prefix(self) -> str:
        return f"{self.url.prefix}/" if self.url.prefix else ""

    def _call(self, doing: str, relative: str, method: Any, *args: Any, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return method(*args, **kwargs)
        except ClientError as exc:
            if doing == "publishing" and _status(exc) in (409, 412):
                raise _Conflict from None
            raise self._error(doing, relative, exc) from None
        except BotoCoreError as exc:
            raise self._error(doing, relative, exc) from None

    def _error(self, doing: str, relative: str, exc: Exception) -> ObjectStoreError:
        where = self.url.url(relative)
        status = _status(exc)
        cause = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        hint = ("check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or ~/.aws/credentials)"
                if status in (401, 403) else
                "check AWS_ENDPOINT_URL / AWS_REGION and that the bucket exists")
        return ObjectStoreError(f"object storage: {doing} {where} failed: {cause}; {hint}")


def quiet_sdk_loggers() -> None:
    """Keep the AWS SDK's loggers at WARNING or above: their DEBUG lines show request
    headers and bodies, whatever level the process logs at."""
    for name in SDK_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level < logging.WARNING:
            logger.setLevel(logging.WARNING)


class _Conflict(Exception):
    """A create-only PUT found its key taken (412) or raced another writer (409)."""


def _status(exc: Exception) -> int | None:
    response = getattr(exc, "response", None) or {}
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return int(status) if status is not None else None


_STORES: dict[tuple[ObjectStoreUrl, S3Settings], ObjectStore] = {}


def object_store(url: ObjectStoreUrl) -> ObjectStore:
    """The :class:`ObjectStore` of ``url`` with the settings of the environment (one client
    per location and settings in a process; boto3 clients are thread-safe)."""
    settings = S3Settings.from_environment()
    store = _STORES.get((url, settings))
    if store is None:
        store = _STORES[(url, settings)] = ObjectStore(url, settings)
    return store
