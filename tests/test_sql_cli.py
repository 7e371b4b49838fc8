"""`trackit sql`: each format's exact output, the shell (piped and on a terminal), writes
refused, one-line errors, time travel, no waiting on a build. A real warehouse built by the
real transform and build from raw lake files, queried through the real command in a
subprocess."""

from __future__ import annotations

import io
import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lake.ducklake import open_warehouse
from lake.raw_schema import RAW_SCHEMA
from trackit import sql_output
from trackit.sql_output import iso_duration
from trackit.sql_shell import statement_end
from transforms.pipeline import transform_lake
from warehouse.build import build_warehouse

T0 = datetime(2022, 4, 2, 10, 0, tzinfo=UTC)
RECORDS_SQL = "select vid, tmx, speed_kmh, source from core.records order by tmx"


def record(vid: int, tmx: str, speed: int) -> str:
    """One ``records`` frame as TRACKiT sends it."""
    return json.dumps({"uid": 1001, "params": {"type": "records", "total": 1, "lastRecord": {
        "tmx": tmx, "vid": vid, "dmx": 1, "loc": {"lat": 38.5787133, "lon": -9.0127133},
        "gsp": speed, "hdg": 246, "gkm": 1613709, "cas": 3}}})


def write_raw(data: Path, frames: Sequence[str], name: str, start: datetime) -> None:
    """A raw lake file of incoming ``frames``."""
    folder = data / "raw" / f"date={start:%Y-%m-%d}" / f"hour={start:%H}"
    folder.mkdir(parents=True, exist_ok=True)
    n = len(frames)
    pq.write_table(pa.table({
        "received_at": [start + timedelta(milliseconds=10 * i) for i in range(n)],
        "direction": ["in"] * n,
        "connection_id": [f"conn-{name}"] * n,
        "seq": list(range(n)),
        "frame": list(frames),
    }, schema=RAW_SCHEMA), folder / f"{name}.parquet")


def latest_snapshot(data: Path) -> int:
    with open_warehouse(data, read_only=True) as con:
        return con.sql("select max(snapshot_id) from ducklake_snapshots('warehouse')"
                       ).fetchone()[0]  # type: ignore[index]


def build(data: Path) -> int:
    """Two transforms (2 records, then 1 more) and a build of the marts; the snapshot after
    the first transform."""
    write_raw(data, [record(826403, "2022-04-02T09:50:03.574Z", 41),
                     record(826404, "2022-04-02T09:51:00Z", 0)], "part-0001", T0)
    transform_lake(data)
    first = latest_snapshot(data)
    write_raw(data, [record(826405, "2022-04-02T10:50:03Z", 12)], "part-0002",
              T0 + timedelta(hours=1))
    transform_lake(data)
    build_warehouse(data)
    return first


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """The data directory and the snapshot its first transform left."""
    data = tmp_path_factory.mktemp("sql") / "data"
    data.mkdir()
    return data, build(data)


def trackit_sql(data: Path, *args: str, stdin: str | None = None
                ) -> subprocess.CompletedProcess[str]:
    """The command's exit code and output, line ends as written (CRLF stays CRLF)."""
    done = subprocess.run(
        [sys.executable, "-m", "trackit", "sql", "--data", str(data), *args],
        input=None if stdin is None else stdin.encode(), capture_output=True, timeout=120,
        stdin=None if stdin is not None else subprocess.DEVNULL)
    return subprocess.CompletedProcess(done.args, done.returncode, done.stdout.decode(),
                                       done.stderr.decode())


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("trackit: error: "), done.stderr
    return lines[0]


def count_records(data: Path, *args: str) -> int:
    done = trackit_sql(data, "--format", "json", *args,
                       "select count(*) as n from core.records")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)[0]["n"]


def test_table_format_is_aligned_with_a_header(warehouse: tuple[Path, int]) -> None:
    done = trackit_sql(warehouse[0], RECORDS_SQL)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == (
        "   vid  tmx                            speed_kmh  source\n"
        "------  -----------------------------  ---------  -------\n"
        "826403  2022-04-02 09:50:03.574+00:00       41.0  records\n"
        "826404  2022-04-02 09:51:00+00:00            0.0  records\n"
        "826405  2022-04-02 10:50:03+00:00           12.0  records\n"
        "(3 rows)\n")


def test_marts_are_there_to_query(warehouse: tuple[Path, int]) -> None:
    done = trackit_sql(warehouse[0], "select vid, state, last_seen, speed_kmh "
                                     "from marts.vehicle_status order by vid")
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == (
        "   vid  state    last_seen                      speed_kmh\n"
        "------  -------  -----------------------------  ---------\n"
        "826403  moving   2022-04-02 09:50:03.574+00:00       41.0\n"
        "826404  stopped  2022-04-02 09:51:00+00:00            0.0\n"
        "826405  moving   2022-04-02 10:50:03+00:00           12.0\n"
        "(3 rows)\n")


def test_csv_format_is_rfc_4180(warehouse: tuple[Path, int]) -> None:
    done = trackit_sql(warehouse[0], "--format", "csv",
                       "select vid, tmx, 'a,\"b\"' || chr(10) || 'c' as note, null as nothing "
                       "from core.records where vid < 826405 order by tmx")
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == (
        "vid,tmx,note,nothing\r\n"
        '826403,2022-04-02 09:50:03.574+00:00,"a,""b""\nc",\r\n'
        '826404,2022-04-02 09:51:00+00:00,"a,""b""\nc",\r\n')


def test_json_format_keeps_types_and_offsets(warehouse: tuple[Path, int]) -> None:
    done = trackit_sql(
        warehouse[0], "--format", "json",
        "select vid, tmx, tmx::date as day, speed_kmh, 1.50::decimal(5, 2) as price, "
        "interval 90 minute as idle, null as nothing from core.records order by tmx limit 2")
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == (
        '[\n'
        '{"vid": 826403, "tmx": "2022-04-02T09:50:03.574+00:00", "day": "2022-04-02", '
        '"speed_kmh": 41.0, "price": 1.50, "idle": "PT1H30M", "nothing": null},\n'
        '{"vid": 826404, "tmx": "2022-04-02T09:51:00+00:00", "day": "2022-04-02", '
        '"speed_kmh": 0.0, "price": 1.50, "idle": "PT1H30M", "nothing": null}\n'
        ']\n')
    rows = json.loads(done.stdout)
    assert datetime.fromisoformat(rows[0]["tmx"]) == datetime(2022, 4, 2, 9, 50, 3, 574000,
                                                              tzinfo=UTC)
    empty = trackit_sql(warehouse[0], "--format", "json", "select 1 as a where false")
    assert empty.stdout == "[]\n"


def test_json_times_follow_the_session_time_zone(warehouse: tuple[Path, int]) -> None:
    done = trackit_sql(warehouse[0], "--format", "json",
                       "set TimeZone = 'Europe/Lisbon'; select tmx from core.records "
                       "order by tmx limit 1")
    assert json.loads(done.stdout) == [{"tmx": "2022-04-02T10:50:03.574+01:00"}]


def test_the_shell_reads_statements_piped_on_stdin(warehouse: tuple[Path, int]) -> None:
    script = ("select count(*) as n\n"
              "  from core.records; -- a comment; with a semicolon\n"
              ".tables\n"
              "select nosuch from core.records;\n"
              "select 'a;b' as s; select 2 as two\n"
              ";\n"
              ".quit\n"
              "select 'never run' as s;\n")
    done = trackit_sql(warehouse[0], stdin=script)
    assert done.returncode == 1  # a statement failed
    assert done.stdout.startswith("n\n-\n3\n(1 row)\nschema  table")
    assert "core    records " in done.stdout and "never run" not in done.stdout
    assert "marts   vehicle_status " in done.stdout
    assert done.stdout.endswith("s\n---\na;b\n(1 row)\ntwo\n---\n  2\n(1 row)\n")
    assert done.stderr.splitlines() == [
        'trackit: error: Binder Error: Referenced column "nosuch" not found in FROM clause! '
        'Candidate bindings: "source", "speed_kmh", "batch_total", "cas", "engine_hours"']
    last = trackit_sql(warehouse[0], stdin="select 7 as seven")  # no ; before the end
    assert (last.returncode, last.stdout) == (0, "seven\n-----\n    7\n(1 row)\n")


class Terminal:
    """The controlling side of a pseudo-terminal: what the program wrote, read in order."""

    def __init__(self, fd: int) -> None:
        self.fd, self.pending = fd, b""

    def expect(self, wanted: bytes, seconds: float = 60) -> bytes:
        """Everything up to and including the next ``wanted``."""
        deadline = time.monotonic() + seconds
        while wanted not in self.pending:
            left = deadline - time.monotonic()
            assert left > 0, f"no {wanted!r} in {self.pending!r}"
            if select.select([self.fd], [], [], left)[0]:
                chunk = os.read(self.fd, 4096)
                assert chunk, f"the terminal closed before {wanted!r}: {self.pending!r}"
                self.pending += chunk
        upto = self.pending.index(wanted) + len(wanted)
        seen, self.pending = self.pending[:upto], self.pending[upto:]
        return seen

    def type(self, line: bytes) -> None:
        os.write(self.fd, line + b"\r")


def test_the_shell_on_a_terminal_prompts_and_quits(warehouse: tuple[Path, int]) -> None:
    controller, terminal = os.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "trackit", "sql", "--data", str(warehouse[0])],
        stdin=terminal, stdout=terminal, stderr=terminal, env={**os.environ, "TERM": "dumb"})
    os.close(terminal)
    screen = Terminal(controller)
    try:
        assert b"read-only" in screen.expect(b"warehouse> ")
        screen.type(b"select 40 +")
        screen.expect(b"...> ")
        screen.type(b"2 as answer;")
        assert b"answer" in screen.expect(b"(1 row)")
        screen.expect(b"warehouse> ")
        screen.type(b"insert into core.records select * from core.records;")
        screen.expect(b"trackit: error: the warehouse is read-only here (INSERT refused)")
        screen.expect(b"warehouse> ")
        screen.type(b".quit")
        assert process.wait(timeout=60) == 0
    finally:
        process.kill()
        os.close(controller)


def test_a_write_is_refused_in_one_line(warehouse: tuple[Path, int]) -> None:
    line = one_error_line(trackit_sql(warehouse[0], "delete from core.records"))
    assert line == ("trackit: error: the warehouse is read-only here (DELETE refused): "
                    "trackit sql only reads; trackit transform and trackit build write it")
    writes = ["insert into core.records select * from core.records",
              "create table core.mine as select 1 as a",
              "drop table marts.vehicle_status",
              "call ducklake_expire_snapshots('warehouse', older_than => now())",
              "attach ':memory:' as elsewhere",
              "install httpfs"]
    done = trackit_sql(warehouse[0], stdin=";\n".join(writes) + ";\n")
    assert done.returncode == 1 and done.stdout == ""
    refusals = done.stderr.splitlines()
    assert len(refusals) == len(writes)
    assert all(r.startswith("trackit: error: the warehouse is read-only here") for r in refusals)
    assert count_records(warehouse[0]) == 3
    assert len(json.loads(trackit_sql(warehouse[0], "--format", "json",
                                      "select * from marts.vehicle_status").stdout)) == 3


def test_a_bad_query_is_one_line_and_fails(warehouse: tuple[Path, int]) -> None:
    assert one_error_line(trackit_sql(warehouse[0], "select * from core.nothing")).startswith(
        "trackit: error: Catalog Error: Table with name nothing does not exist!")
    assert one_error_line(trackit_sql(warehouse[0], "selec 1")) == (
        'trackit: error: Parser Error: syntax error at or near "selec"')


def test_no_warehouse_yet_or_a_damaged_one_is_one_line(tmp_path: Path) -> None:
    line = one_error_line(trackit_sql(tmp_path, "select 1"))
    assert f"no warehouse at {tmp_path}/warehouse/catalog.sqlite yet" in line
    (tmp_path / "warehouse").mkdir()
    (tmp_path / "warehouse" / "catalog.sqlite").write_text("not a database\n")
    line = one_error_line(trackit_sql(tmp_path, "select 1"))
    assert f"cannot open the warehouse {tmp_path}/warehouse/catalog.sqlite: " in line
    assert f"move {tmp_path}/warehouse aside" in line


def test_time_travel_shows_the_older_snapshot(warehouse: tuple[Path, int]) -> None:
    data, first = warehouse
    assert count_records(data) == 3
    assert count_records(data, "--at-version", str(first)) == 2
    done = trackit_sql(data, "--format", "csv",
                       f"select count(*) as n from core.records at (version => {first})")
    assert done.stdout == "n\r\n2\r\n"
    snapshots = trackit_sql(data, "--format", "json",
                            "select snapshot_id from ducklake_snapshots('warehouse')")
    latest = max(row["snapshot_id"] for row in json.loads(snapshots.stdout))
    assert latest > first
    line = one_error_line(trackit_sql(data, "--at-version", str(latest + 1), "select 1"))
    assert f"has no snapshot {latest + 1}: its snapshots go up to {latest}" in line
    before_the_build = one_error_line(trackit_sql(
        data, "--at-version", str(first), "select * from marts.vehicle_status"))
    assert "Catalog Error" in before_the_build


def test_an_open_shell_never_blocks_a_transform_or_a_build(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    build(data)
    shell = subprocess.Popen(
        [sys.executable, "-m", "trackit", "sql", "--data", str(data), "--format", "csv"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert shell.stdin and shell.stdout
        shell.stdin.write("select count(*) as n from core.records;\n")
        shell.stdin.flush()
        assert [shell.stdout.readline(), shell.stdout.readline()] == ["n\n", "3\n"]
        write_raw(data, [record(826406, "2022-04-02T11:00:00Z", 5)], "part-0003",
                  T0 + timedelta(hours=2))
        started = time.monotonic()
        summary = transform_lake(data)  # while the shell holds the warehouse open
        assert summary.rows["records"] == 1
        build_warehouse(data)
        assert time.monotonic() - started < 120
        shell.stdin.write("select count(*) as n from core.records;\n"
                          "select count(*) as n from marts.vehicle_status;\n")
        shell.stdin.flush()
        assert [shell.stdout.readline() for _ in range(4)] == ["n\n", "4\n", "n\n", "4\n"]
        shell.stdin.close()
        assert shell.wait(timeout=60) == 0
    finally:
        shell.kill()


@pytest.mark.parametrize(("text", "end"), [
    ("select 1", 0),
    ("select 1;", 9),
    ("select ';' as s", 0),
    ("select 'it''s;' as s;", 21),
    ("select 1 -- no; end\n", 0),
    ("select 1 /* ; */", 0),
    ("select $$;$$;", 13),
    ("select 1; select 'open", 9),
])
def test_statement_end_skips_quotes_and_comments(text: str, end: int) -> None:
    assert statement_end(text) == end


@pytest.mark.parametrize(("span", "text"), [
    (timedelta(0), "PT0S"),
    (timedelta(hours=1, minutes=30), "PT1H30M"),
    (timedelta(days=2, seconds=1.5), "P2DT1.5S"),
    (-timedelta(minutes=5), "-PT5M"),
])
def test_intervals_are_iso_8601_durations(span: timedelta, text: str) -> None:
    assert iso_duration(span) == text


def test_a_table_streams_past_its_first_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sql_output, "TABLE_ALIGN_ROWS", 2)
    out = io.StringIO()
    sql_output.write_table(["name", "n"], [("Café", 1), ("東京", None), ("Rua Augusta", 300),
                                           ("two\nlines", 4)], out)
    assert out.getvalue() == (
        "name     n\n"
        "----  ----\n"
        "Café     1\n"
        "東京  NULL\n"  # two wide characters take four columns
        "Rua Augusta   300\n"  # past the first two rows: wider than its column
        "two      4\n"
        "lines\n"
        "(4 rows)\n")
