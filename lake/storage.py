"""The one place that publishes finished files into the lake.

On a local file system a finished file is written under a temporary name in the same
folder and published by an atomic rename, so readers never see a partial file. On object
storage (a layout with ``remote``) it is published by one create-only PUT
(``If-None-Match: *``): a reader never sees a partial object and two writers can never
overwrite each other. Publishing the very same bytes again (after a crash) is accepted;
other bytes under a taken key are refused with an error naming the key.
"""

from __future__ import annotations

import errno
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from lake.layout import DataLayout
from lake.object_store import ObjectExistsError, object_store

TMP_PREFIX = ".tmp-"
_DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
_DISK_FULL_TEXTS = ("No space left on device", "Disk quota exceeded")


def fsync_dir(path: Path) -> None:
    """Make a rename or a new file in ``path`` durable (POSIX needs the directory synced)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def publishing(final: Path, *, durable: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``final``; on success publish it under ``final``.

    The caller writes the whole file to the yielded path. If the block raises, the
    temporary file is removed and nothing is published. ``final`` is replaced atomically
    when it already exists (rerunning a deterministic step is safe).
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f"{TMP_PREFIX}{uuid.uuid4().hex}-{final.name}"
    try:
        yield tmp
        if durable:
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp, final)
        if durable:
            fsync_dir(final.parent)
    finally:
        tmp.unlink(missing_ok=True)


def write_parquet(table: pa.Table, final: Path, *, durable: bool = True,
                  compression: str = "zstd", **options: Any) -> Path:
    """Write ``table`` to ``final`` as one Parquet file, published atomically.

    ``options`` go to ``pyarrow.parquet.write_table`` (e.g. ``use_dictionary``).
    """
    with publishing(final, durable=durable) as tmp:
        pq.write_table(table, tmp, compression=compression, **options)
    return final


def publish_parquet(table: pa.Table, layout: DataLayout, relative: str, *,
                    durable: bool = True, compression: str = "zstd",
                    owner_hint: str = "", replace: bool = False,
                    **options: Any) -> Path | str:
    """Publish ``table`` as the Parquet file ``relative`` (``raw/date=.../x.parquet``) of
    the lake: a local file published atomically, or one create-only PUT on object storage
    (``replace``: one plain PUT, for a file that each publication replaces whole, such as
    the named places).

    Returns where it went (the local ``Path``, or the ``s3://`` URL). ``owner_hint`` ends the
    message of a refused PUT (who else may write that key, and what to do).

    Raises:
        ObjectExistsError: on object storage, another object with other bytes holds the key.
    """
    if layout.remote is None:
        return write_parquet(table, layout.root / relative, durable=durable,
                             compression=compression, **options)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression=compression, **options)
    store = object_store(layout.remote)
    if replace:
        store.put(relative, sink.getvalue().to_pybytes())
        return layout.remote.url(relative)
    try:
        store.put_create_only(relative, sink.getvalue().to_pybytes())
    except ObjectExistsError as exc:
        raise ObjectExistsError(f"{exc}{': ' + owner_hint if owner_hint else ''}") from None
    return layout.remote.url(relative)


def list_parquet(folder: Path) -> list[Path]:
    """Every published Parquet file under ``folder`` (recursively), sorted by path.

    Temporary files of unfinished writes are never listed.
    """
    if not folder.exists():
        return []
    return sorted(
        p for p in folder.rglob("*.parquet") if not p.name.startswith(TMP_PREFIX)
    )


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` reports a full device or quota (errno, or the text of a library's error)."""
    if isinstance(exc, OSError) and exc.errno in _DISK_FULL_ERRNOS:
        return True
    text = str(exc)
    return any(t in text for t in _DISK_FULL_TEXTS)
