"""The route runner: prepared queries over batch after batch, holding no batch between."""

from __future__ import annotations

import gc
import json

import duckdb
import pyarrow as pa

from transforms.route_runner import RouteRunner, _pieces


def _connection_frames(rows: int, status: int) -> pa.Table:
    doc = json.dumps({"uid": 7, "params": {"type": "connection", "status": status}})
    return pa.table({
        "_file": pa.array([0] * rows, pa.int32()),
        "_row": pa.array(range(rows), pa.int64()),
        "seq": pa.array(range(rows), pa.int64()),
        "received_at": pa.array([0] * rows, pa.timestamp("us", "UTC")),
        "connection_id": pa.array(["c1"] * rows, pa.string()),
        "doc": pa.array([doc] * rows, pa.string()),
    })


def test_a_prepared_route_reads_each_new_batch() -> None:
    con = duckdb.connect()
    with RouteRunner(con, threads=1) as runner:
        for status, rows in ((1, 3), (0, 5)):
            [(route, result, _)] = runner.run({"connection": _connection_frames(rows, status)})
            assert route.name == "connection"
            assert [r["status"] for r in result.column("connections").to_pylist()] == \
                [status] * rows
    con.close()


def test_a_large_route_runs_in_pieces_that_join_in_order() -> None:
    con = duckdb.connect()
    frames = _connection_frames(7, 1)
    assert [piece.num_rows for piece in _pieces(frames, 3)] == [2, 2, 3]
    assert [piece.num_rows for piece in _pieces(frames, 7)] == [7]
    with RouteRunner(con, threads=2) as whole, RouteRunner(con, threads=2,
                                                         piece_frames=3) as pieces:
        [(_, expected, _)] = whole.run({"connection": frames})
        [(_, joined, _)] = pieces.run({"connection": frames})
    assert joined.column("_row").to_pylist() == list(range(7))
    assert joined.equals(expected)
    con.close()


def test_the_runner_keeps_no_batch_alive() -> None:
    """Between batches the prepared queries read an empty table: the frames of a batch
    are freed once the caller lets go of them, so memory holds one batch, not two."""
    con = duckdb.connect()
    with RouteRunner(con, threads=1) as runner:
        runner.run({"connection": _connection_frames(10, 1)})  # prepares the query
        gc.collect()
        before = pa.total_allocated_bytes()
        frames = _connection_frames(50_000, 1)
        assert pa.total_allocated_bytes() - before > 1_000_000
        results = runner.run({"connection": frames})
        del frames, results
        gc.collect()
        assert pa.total_allocated_bytes() - before < 100_000
    con.close()
