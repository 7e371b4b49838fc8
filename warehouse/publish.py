"""Publish the checked build as ``DATA/warehouse.duckdb`` by an atomic swap, and verify it.

Analysts hold read-only sessions on ``DATA/warehouse.duckdb`` for hours, and a DuckDB
reader holds a lock on the file it opened. So the builder never writes the published file:
it checkpoints its private database, copies it beside the published one and renames the
copy over it (``lake.storage.publishing``: one atomic operation). Open sessions keep
reading the old file (its inode lives on until they close it); every new connection sees
the new build whole. A build whose checks did not pass is never published.

Every publication gets a build id, stored in the published file (``meta.publication``)
and in a marker beside the builder's database together with the file's size. Publishing
succeeds only once the published file opens read-only, as a reader would open it, and
holds that build id; a build that finds nothing new still checks the published file the
same way, and publishes it again from the builder's database when it is missing or
damaged.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from lake.errors import TrackitError
from lake.layout import DataLayout
from lake.storage import is_disk_full, publishing
from warehouse.database import builder_path, connect, get_state

log = logging.getLogger(__name__)

PUBLICATION_DDL = """
create table if not exists meta.publication (
    published_at timestamptz not null,
    load_id bigint not null
);
alter table meta.publication add column if not exists build_id varchar;
"""


class UncheckedBuildError(TrackitError):
    """The builder's database holds marts whose checks have not passed."""


class PublishError(TrackitError):
    """The published file could not be written, or does not read back as published."""


@dataclass
class PublishSummary:
    """What one publish did."""

    published: bool
    load_id: int
    path: Path
    published_at: datetime | None = None
    size_bytes: int = 0
    seconds: float = 0.0
    repaired: str | None = None  # what was wrong with the published file, when republished


@dataclass(frozen=True)
class Publication:
    """What the marker says was published last."""

    load_id: int
    build_id: str | None
    size_bytes: int | None
    built_at: str | None = None
    """When the marts were built (``meta.builds``): new settings rebuild them, same load."""


def marker_path(data_dir: Path) -> Path:
    """The marker of the last publication (beside the builder's database)."""
    return builder_path(data_dir).with_name("published.json")


def _last_publication(data_dir: Path) -> Publication | None:
    """The marker's content, or None when there is none (or it is unreadable)."""
    try:
        data = json.loads(marker_path(data_dir).read_text())
        return Publication(int(data["load_id"]), data.get("build_id"), data.get("size_bytes"),
                           data.get("built_at"))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _mark_published(data_dir: Path, publication: Publication, published_at: datetime) -> None:
    body = {"load_id": publication.load_id, "build_id": publication.build_id,
            "built_at": publication.built_at, "published_at": published_at.isoformat(),
            "size_bytes": publication.size_bytes}
    with publishing(marker_path(data_dir)) as tmp:
        tmp.write_text(json.dumps(body))


def published_build_id(path: Path) -> str:
    """The build id held by the published file at ``path``, opened read-only as readers do.

    The file is attached from an in-memory connection: ``duckdb.connect(path)`` would
    return a database this process already has open, possibly an older file at that path.
    Raises ``duckdb.Error`` when the file cannot be opened or read.
    """
    con = duckdb.connect(":memory:")
    try:
        literal = str(path).replace("'", "''")
        con.execute(f"attach '{literal}' as published (read_only)")
        row = con.execute("select build_id from published.meta.publication").fetchone()
    finally:
        con.close()
    if row is None or row[0] is None:
        raise duckdb.InvalidInputException("meta.publication holds no build id")
    return str(row[0])


def published_problem(path: Path, expected: Publication) -> str | None:
    """What is wrong with the published file (None: it is the publication ``expected``)."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return "is missing"
    if expected.build_id is None:
        return "has no recorded build id"
    if expected.size_bytes is not None and size != expected.size_bytes:
        return f"has {size} bytes instead of the {expected.size_bytes} published"
    try:
        build_id = published_build_id(path)
    except duckdb.Error as exc:
        return f"does not open ({str(exc).splitlines()[0]})"
    if build_id != expected.build_id:
        return f"holds build {build_id} instead of {expected.build_id}"
    return None


def _copy_out(source: Path, final: Path) -> None:
    try:
        with publishing(final) as tmp:
            shutil.copyfile(source, tmp)
    except OSError as exc:
        if is_disk_full(exc):
            raise PublishError(
                f"no space left on device to publish {final} (in {final.parent}): free "
                "space there and rerun `trackit build`; the published file was not changed"
            ) from None
        raise PublishError(f"cannot publish {final}: {exc}") from None


def publish_warehouse(data_dir: Path) -> PublishSummary:
    """Swap the checked build in as ``DATA/warehouse.duckdb`` (no-op when already there)."""
    started = time.perf_counter()
    final = DataLayout(data_dir).warehouse
    repaired: str | None = None
    with connect(data_dir) as con:
        loaded = int(con.execute("select coalesce(max(load_id), 0) from meta.loads").fetchone()[0])
        marts = get_state(con, "marts_load_id")
        checked = get_state(con, "checked_load_id")
        if marts != loaded:
            raise UncheckedBuildError(
                f"load {loaded} has no marts yet (marts built up to load {marts}): "
                "run the marts step before publishing"
            )
        unchecked = con.execute("select count(*) from meta.pending_checks").fetchone()[0]
        if checked != marts or unchecked:
            raise UncheckedBuildError(
                f"the marts of load {marts} have not passed their checks: not publishing"
            )
        built_at = str(con.execute("select max(built_at) from meta.builds").fetchone()[0])
        last = _last_publication(data_dir)
        if last is not None and (last.load_id, last.built_at) == (marts, built_at):
            repaired = published_problem(final, last)
            if repaired is None:
                log.info("publish: load %d is already published", marts)
                return PublishSummary(published=False, load_id=marts, path=final)
            log.warning("publish: the published warehouse %s %s: publishing load %d again "
                        "from the builder's database", final, repaired, marts)
        published_at = datetime.now(UTC)
        build_id = uuid.uuid4().hex
        con.execute(PUBLICATION_DDL)
        con.execute("delete from meta.publication")
        con.execute("insert into meta.publication (published_at, load_id, build_id) "
                    "values (?, ?, ?)", [published_at, marts, build_id])
        con.execute("checkpoint")
    _copy_out(builder_path(data_dir), final)
    size = final.stat().st_size
    publication = Publication(marts, build_id, size, built_at)
    problem = published_problem(final, publication)
    if problem is not None:
        raise PublishError(
            f"the warehouse just published as {final} {problem}: check the disk of "
            f"{final.parent}, then rerun `trackit build` (it publishes again)"
        )
    _mark_published(data_dir, publication, published_at)
    summary = PublishSummary(
        published=True, load_id=marts, path=final, published_at=published_at,
        size_bytes=size, seconds=time.perf_counter() - started, repaired=repaired,
    )
    log.info("publish: load %d published to %s (%.1f MB) in %.2fs", marts, final,
             summary.size_bytes / 1e6, summary.seconds)
    return summary
