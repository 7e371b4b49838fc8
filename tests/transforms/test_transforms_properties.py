"""Property tests: random frames never crash the transform, and the counts reconcile."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
from conftest import manual_examples, read_table, write_raw_file
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from transforms import batch as batch_module
from transforms import classify as classify_module
from transforms.classify import ClassifiedBatch, classify
from transforms.pipeline import transform_lake
from transforms.repair import UnrecoverableFrame, repair_frame
from transforms.route_runner import FRAME_COLUMNS, RouteRunner
from transforms.route_sql import check_query, frames_relation, rows_query
from transforms.routes import ROUTES

TYPES = ["records", "event", "connection", "cmd-status", "cmd-parsed", "pnd-connection",
         "pnd-msg", "pnd-msg-prd", "form", "msg-sts", "service-generic", "auth", "other"]
KEYS = ["uid", "params", "type", "sub-type", "lastRecord", "record", "event", "tmx", "vid",
        "loc", "lat", "lon", "lng", "gsp", "exd", "io", "eco", "dcl", "_id", "txs", "cmd",
        "frm", "fld", "evt", "status", "id", "x", "é\"'"]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12),
    st.sampled_from(["2022-04-02T10:07:03.000Z", "2022-04-02T06:47:07.0", "1", "-1",
                     "0000001993887010"]),
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=3),
                               st.dictionaries(st.sampled_from(KEYS), children, max_size=5)),
    max_leaves=12,
)


@st.composite
def frames(draw: st.DrawFn) -> tuple[str, str]:
    kind = draw(st.sampled_from(["mutated", "random", "text", "example"]))
    examples = list(manual_examples().values())
    if kind == "example":
        return draw(st.sampled_from(examples))
    if kind == "text":
        return draw(st.sampled_from(["in", "out"])), draw(st.text(max_size=40))
    if kind == "random":
        return "in", json.dumps(draw(json_values))
    # A real example with one value replaced somewhere: the likely kind of surprise.
    direction, text = draw(st.sampled_from(examples))
    try:
        doc = json.loads(repair_frame(text)[0]) if text.count("}") > text.count("{") \
            else json.loads(text)
    except (UnrecoverableFrame, ValueError):
        return direction, text
    node = doc
    for _ in range(draw(st.integers(0, 3))):
        if not isinstance(node, dict) or not node:
            break
        key = draw(st.sampled_from(sorted(node)))
        if isinstance(node[key], dict) and draw(st.booleans()):
            node = node[key]
            continue
        node[key] = draw(json_values)
        break
    if isinstance(node, dict) and draw(st.booleans()):
        node[draw(st.sampled_from(KEYS))] = draw(json_values)
    if isinstance(doc.get("params"), dict) and draw(st.booleans()):
        doc["params"]["type"] = draw(st.sampled_from(TYPES))
    return direction, json.dumps(doc)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(frames(), min_size=1, max_size=25))
def test_random_frames_never_crash_and_always_reconcile(batch: list[tuple[str, str]]) -> None:
    data = Path(tempfile.mkdtemp(prefix="trackit-prop-"))
    try:
        write_raw_file(data, batch)
        summary = transform_lake(data)
        assert summary.reconciles
        assert summary.frames == len(batch)
    finally:
        shutil.rmtree(data)


@given(st.text(max_size=60))
def test_repair_either_returns_json_or_says_why(text: str) -> None:
    try:
        fixed, repairs = repair_frame(text)
    except UnrecoverableFrame as exc:
        assert str(exc).startswith("not JSON")
    else:
        json.loads(fixed)
        assert repairs


field_values = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**40), 2**40),
    st.floats(-1e6, 1e6, allow_nan=False), st.sampled_from(["12", "fast", "", "1e3"]),
    st.dictionaries(st.sampled_from(["a", "b"]), st.integers(), max_size=2),
)


@settings(max_examples=40, deadline=None)
@given(gsp=field_values, sat=field_values, dcl=field_values)
def test_a_loaded_record_holds_exactly_what_was_sent(gsp: object, sat: object,
                                                     dcl: object) -> None:
    frame = json.dumps({"uid": 1, "params": {"type": "records", "total": 1, "lastRecord": {
        "tmx": "2022-04-02T10:00:00Z", "vid": 1, "gsp": gsp,
        "exd": {"sat": sat, "eco": {"dcl": dcl}}}}})
    data = Path(tempfile.mkdtemp(prefix="trackit-prop-"))
    try:
        write_raw_file(data, [frame])
        summary = transform_lake(data)
        assert summary.reconciles
        if summary.loaded_frames == 0:
            return  # quarantined: fine, as long as what loads is right
        row = read_table(data, "records").row(0, named=True)
        if isinstance(gsp, bool) or gsp is None or isinstance(gsp, dict):
            assert row["speed_kmh"] is None or isinstance(gsp, bool)
        elif isinstance(gsp, int | float):
            assert row["speed_kmh"] == gsp
        else:
            assert row["speed_kmh"] == float(gsp)
        if isinstance(sat, int | float) and not isinstance(sat, bool):
            assert row["sat"] == sat and float(sat).is_integer()
        if isinstance(dcl, str):
            assert row["driver_card"] == dcl
    finally:
        shutil.rmtree(data)


def _route_frames(classified: ClassifiedBatch, route: str) -> pa.Table:
    frames = classified.frames
    return frames.filter(pc.equal(frames.column("route"), route)).select(FRAME_COLUMNS)


@settings(max_examples=25, deadline=None)
@given(st.lists(frames(), min_size=1, max_size=25))
def test_the_check_guard_changes_no_row(batch: list[tuple[str, str]]) -> None:
    """The rows query computes type errors and ``extra`` only for the frames ``_check``
    picks; computed for every frame, they change no row."""
    data = Path(tempfile.mkdtemp(prefix="trackit-prop-"))
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    try:
        classified = classify(con, [write_raw_file(data, batch)])
        for route in ROUTES.values():
            con.register(frames_relation(route), _route_frames(classified, route.name))
            guarded = con.sql(rows_query(route)).pl()
            every = con.sql(rows_query(route, check_every_frame=True)).pl()
            assert_frame_equal(guarded, every)
    finally:
        con.close()
        shutil.rmtree(data)


def test_a_frame_without_an_optional_object_is_not_checked() -> None:
    """A record without ``exd.tlm`` (most records) needs no costly reading."""
    frame = json.dumps({"uid": 1, "params": {"type": "records", "total": 1, "lastRecord": {
        "tmx": "2022-04-02T10:00:00Z", "vid": 1, "loc": {"lat": 38.5, "lon": -9.1},
        "gsp": 10, "exd": {"sat": 9, "io": {"1": 1}}}}})
    odd = json.dumps({"uid": 1, "params": {"type": "records", "total": 1, "lastRecord": {
        "tmx": "2022-04-02T10:00:00Z", "vid": 1, "gsp": None, "new": 1}}})
    data = Path(tempfile.mkdtemp(prefix="trackit-prop-"))
    con = duckdb.connect()
    try:
        classified = classify(con, [write_raw_file(data, [("in", frame), ("in", odd)])])
        route = ROUTES["records"]
        con.register(frames_relation(route), _route_frames(classified, "records"))
        assert con.sql(check_query(route)).pl()["_check"].to_list() == [False, True]
    finally:
        con.close()
        shutil.rmtree(data)


@settings(max_examples=15, deadline=None)
@given(st.lists(frames(), min_size=1, max_size=20), st.lists(frames(), min_size=1, max_size=20))
def test_the_routes_give_the_same_rows_whatever_the_threads_chunks_and_batches(
        first: list[tuple[str, str]], second: list[tuple[str, str]]) -> None:
    """Routes run two at a time over Arrow record batches of a few rows, in pieces of two
    frames, by a runner that ran another batch before (its queries prepared then), give
    the rows of one route at a time over one record batch, in one piece, by a new
    runner."""
    data = Path(tempfile.mkdtemp(prefix="trackit-prop-"))
    files = [write_raw_file(data, first),
             write_raw_file(data, second, name="part-0002", seq0=len(first))]
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    saved = classify_module._CHUNK

    def routes(runner: RouteRunner, batch_files: list[Path]) -> dict[str, list[pl.DataFrame]]:
        classified = classify(con, batch_files)
        present = set(classified.frames.column("route").to_pylist())
        return batch_module.run_routes(runner, classified, present)

    try:
        classify_module._CHUNK = 1_000_000
        with RouteRunner(con, threads=1) as runner:
            one = routes(runner, files)
        classify_module._CHUNK = 3
        with RouteRunner(con, threads=2, piece_frames=2) as runner:
            routes(runner, files[1:])
            two = routes(runner, files)
        assert one.keys() == two.keys()
        for table, parts in one.items():
            assert len(parts) == len(two[table])
            for mine, theirs in zip(parts, two[table], strict=True):
                assert_frame_equal(mine, theirs)
    finally:
        classify_module._CHUNK = saved
        con.close()
        shutil.rmtree(data)
