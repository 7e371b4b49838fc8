"""Publish the checked build as ``DATA/warehouse.duckdb`` by an atomic swap.

Analysts hold ``duckdb -readonly DATA/warehouse.duckdb`` sessions for hours, and a DuckDB
reader holds a lock on the file it opened. So the builder never writes the published file:
it checkpoints its private database, copies it beside the published one and renames the
copy over it (``lake.storage.publishing``: one atomic operation). Open sessions keep
reading the old file (its inode lives on until they close it); every new connection sees
the new build whole. A build whose checks did not pass is never published.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from lake.errors import TrackitError
from lake.layout import DataLayout
from lake.storage import publishing
from warehouse.database import builder_path, connect, get_state

log = logging.getLogger(__name__)

PUBLICATION_DDL = """
create table if not exists meta.publication (
    published_at timestamptz not null,
    load_id bigint not null
)
"""


class UncheckedBuildError(TrackitError):
    """The builder's database holds marts whose checks have not passed."""


@dataclass
class PublishSummary:
    """What one publish did."""

    published: bool
    load_id: int
    path: Path
    published_at: datetime | None = None
    size_bytes: int = 0
    seconds: float = 0.0


def _marker(data_dir: Path) -> Path:
    return builder_path(data_dir).with_name("published.json")


def _published_build(data_dir: Path) -> tuple[int, str] | None:
    """The load and mart build the published file holds (a small marker, so as not to
    reopen DuckDB): new settings rebuild the marts without a new load."""
    try:
        marker = json.loads(_marker(data_dir).read_text())
        return int(marker["load_id"]), str(marker["built_at"])
    except (FileNotFoundError, ValueError, KeyError):
        return None


def _mark_published(data_dir: Path, load_id: int, built_at: str,
                    published_at: datetime) -> None:
    with publishing(_marker(data_dir)) as tmp:
        tmp.write_text(json.dumps({"load_id": load_id, "built_at": built_at,
                                   "published_at": published_at.isoformat()}))


def publish_warehouse(data_dir: Path) -> PublishSummary:
    """Swap the checked build in as ``DATA/warehouse.duckdb`` (no-op when already there)."""
    started = time.perf_counter()
    final = DataLayout(data_dir).warehouse
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
        if _published_build(data_dir) == (marts, built_at) and final.exists():
            log.info("publish: load %d is already published", marts)
            return PublishSummary(published=False, load_id=marts, path=final)
        published_at = datetime.now(UTC)
        con.execute(PUBLICATION_DDL)
        con.execute("delete from meta.publication")
        con.execute("insert into meta.publication values (?, ?)", [published_at, marts])
        con.execute("checkpoint")
    with publishing(final) as tmp:
        shutil.copyfile(builder_path(data_dir), tmp)
    _mark_published(data_dir, marts, built_at, published_at)
    summary = PublishSummary(
        published=True, load_id=marts, path=final, published_at=published_at,
        size_bytes=final.stat().st_size, seconds=time.perf_counter() - started,
    )
    log.info("publish: load %d published to %s (%.1f MB) in %.2fs", marts, final,
             summary.size_bytes / 1e6, summary.seconds)
    return summary
