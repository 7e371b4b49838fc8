"""Property tests: random frames never crash the transform, and the counts reconcile."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import duckdb
import polars as pl
from conftest import manual_examples, read_table, write_raw_file
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from transforms import batch as batch_module
from transforms import classify as classify_module
from transforms.classify import classify
from transforms.pipeline import transform_lake
from transforms.repair import UnrecoverableFrame, repair_frame
from transforms.route_sql import BATCH, exact_query, fast_query
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


@settings(max_examples=25, deadline=None)
@given(st.lists(frames(), min_size=1, max_size=25))
def test_the_fast_query_agrees_with_the_exact_query(batch: list[tuple[str, str]]) -> None:
    """Every frame the fast query settles gets the very rows the exact query gives it."""
    data = Path(tempfile.mkdtemp(prefix="trackit-prop-"))
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    try:
        classified = classify(con, [write_raw_file(data, batch)])
        con.register(BATCH, classified.frames)
        for route in ROUTES.values():
            fast = con.sql(fast_query(route)).pl()
            exact = con.sql(exact_query(route, BATCH)).pl()  # every frame, not only the rest
            settled = fast.filter(pl.col("_fast")).drop("_fast")
            expected = exact.join(settled.select("_file", "_row"), on=["_file", "_row"])
            assert_frame_equal(settled, expected.select(settled.columns))
    finally:
        con.close()
        shutil.rmtree(data)


def test_the_fast_query_settles_a_frame_without_an_optional_object() -> None:
    """A record without ``exd.tlm`` (most records) needs no exact reading."""
    frame = json.dumps({"uid": 1, "params": {"type": "records", "total": 1, "lastRecord": {
        "tmx": "2022-04-02T10:00:00Z", "vid": 1, "loc": {"lat": 38.5, "lon": -9.1},
        "gsp": 10, "exd": {"sat": 9, "io": {"1": 1}}}}})
    data = Path(tempfile.mkdtemp(prefix="trackit-prop-"))
    con = duckdb.connect()
    try:
        classified = classify(con, [write_raw_file(data, [frame])])
        con.register(BATCH, classified.frames)
        assert con.sql(fast_query(ROUTES["records"])).pl()["_fast"].to_list() == [True]
    finally:
        con.close()
        shutil.rmtree(data)


@settings(max_examples=15, deadline=None)
@given(st.lists(frames(), min_size=1, max_size=20), st.lists(frames(), min_size=1, max_size=20))
def test_the_routes_give_the_same_rows_whatever_the_threads_and_chunks(
        first: list[tuple[str, str]], second: list[tuple[str, str]]) -> None:
    """Routes run two at a time over Arrow record batches of a few rows (two raw files,
    unsettled frames picked by their ``_file``/``_row``) give the rows of one route at a
    time over one record batch."""
    data = Path(tempfile.mkdtemp(prefix="trackit-prop-"))
    files = [write_raw_file(data, first),
             write_raw_file(data, second, name="part-0002", seq0=len(first))]
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    saved = classify_module._CHUNK, batch_module.ROUTE_THREADS
    try:
        runs = []
        for chunk, threads in ((1_000_000, 1), (3, 2)):
            classify_module._CHUNK, batch_module.ROUTE_THREADS = chunk, threads
            classified = classify(con, files)
            present = set(classified.frames.column("route").to_pylist())
            runs.append(batch_module.run_routes(con, classified, present))
        one, two = runs
        assert one.keys() == two.keys()
        for table, parts in one.items():
            assert len(parts) == len(two[table])
            for mine, theirs in zip(parts, two[table], strict=True):
                assert_frame_equal(mine, theirs)
    finally:
        classify_module._CHUNK, batch_module.ROUTE_THREADS = saved
        con.close()
        shutil.rmtree(data)
