"""Benchmark of ``trackit transform``: 1M raw frames → core tables, against a baseline.

    ./run bench transform [--frames N] [--files K]

Generates (once, cached under ``bench/out/transform-raw-<N>``) a raw lake of N frames
(70 % records, 15 % events, 8 % driver messages, 5 % forms, 2 % message statuses) in K
Parquet files, then measures in the same run, on the same files:

* baseline: the issue's reference, one DuckDB query extracting the ``records`` columns,
  ``SELECT json_extract_string(frame, [paths]) FROM read_parquet(...)``, its result
  fetched as Arrow (no validation, no routing, nothing written). The same query reduced
  to ``count()`` (the columns computed, then thrown away) is measured and printed too,
  with its ratio: it is the stricter comparison;
* full: ``transform_lake`` (routing, typing, pandera validation, dedup, quarantine,
  Parquet output, ledger).

Prints the rates in frames/s, the ratios (target ≥ 0.5 against the baseline) and the
peak RSS (target < 1.5 GB).
"""

from __future__ import annotations

import argparse
import random
import resource
import shutil
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lake.raw_schema import RAW_SCHEMA
from transforms.pipeline import transform_lake

OUT = Path(__file__).resolve().parent / "out"
RECORD_PATHS = [
    "$.uid", "$.params.total", "$.params.lastRecord.tmx", "$.params.lastRecord.vid",
    "$.params.lastRecord.dmx", "$.params.lastRecord.loc.lon", "$.params.lastRecord.loc.lat",
    "$.params.lastRecord.gsp", "$.params.lastRecord.hdg", "$.params.lastRecord.gkm",
    "$.params.lastRecord.cas", "$.params.lastRecord.exd.sat", "$.params.lastRecord.exd.alt",
    "$.params.lastRecord.exd.bpp", "$.params.lastRecord.exd.eco.edt",
    "$.params.lastRecord.exd.eco.aat", "$.params.lastRecord.exd.eco.rpm",
    "$.params.lastRecord.exd.eco.ehr", "$.params.lastRecord.exd.eco.flv",
    "$.params.lastRecord.exd.eco.dcl",
]


def _ts(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


class FrameMaker:
    """Seeded frames shaped like the manual's examples."""

    def __init__(self, seed: int = 7, vehicles: int = 500) -> None:
        self.rng = random.Random(seed)
        self.vehicles = vehicles

    def record(self, t: datetime, vid: int) -> dict:
        r = self.rng
        return {
            "tmx": _ts(t), "vid": vid, "dmx": 1,
            "loc": {"lon": round(r.uniform(-9.5, -8.0), 7), "lat": round(r.uniform(38, 41), 7)},
            "gsp": r.randint(0, 120), "hdg": r.randint(0, 359),
            "gkm": r.choice([r.randint(0, 2_000_000), -1]), "cas": 3,
            "exd": {"sat": r.randint(3, 20), "alt": 42, "bpp": 0,
                    "eco": {"edt": 1, "aat": 11, "rpm": r.randint(0, 3000), "ehr": 25237,
                            "flv": r.randint(0, 100), "dcl": "0000001993887010"},
                    "io": {"1": r.randint(0, 1), "8": r.randint(0, 1)}},
        }

    def envelope(self, t: datetime, uid: int, eid: int) -> dict:
        return {"hid": None, "mid": uid, "tmx": _ts(t), "rmx": _ts(t + timedelta(seconds=1)),
                "lat": 41.2165983, "lng": 1.20606, "sts": 1, "frc": None,
                "src": "tlk-server", "eid": eid}

    def frame(self, i: int, t: datetime) -> dict:
        r = self.rng.random()
        vid = 800_000 + i % self.vehicles
        uid = 1000 + i % self.vehicles
        if r < 0.70:
            return {"uid": uid, "params": {"type": "records", "total": self.rng.randint(1, 10),
                                           "lastRecord": self.record(t, vid)}}
        if r < 0.85:
            rec = self.record(t, vid)
            rec["_id"] = f"{i:024x}"
            rec["exd"] = {"sat": 11, "tlm": {"tio": 1, "tlv": self.rng.randint(0, 1)}}
            event = {**self.envelope(t, uid, 3846), "_id": f"e{i:023x}", "hid": rec["_id"],
                     "frc": "(...), Espanha"}
            return {"uid": uid, "params": {"type": "event", "sub-type": "io", "record": rec,
                                           "event": event}}
        if r < 0.93:
            ev = {**self.envelope(t, uid, 3951), "txt": "text message sent by driver"}
            return {"uid": uid, "params": {"type": "pnd-msg", "event": ev}}
        if r < 0.98:
            ev = {**self.envelope(t, uid, 33),
                  "frm": {"fnm": "Form name", "fld": {"Client": "c", "Work": "w", "Local": "l"}}}
            return {"uid": uid, "params": {"type": "form", "event": ev}}
        return {"uid": uid, "params": {"type": "msg-sts", "id": f"m{i:031x}",
                                       "txs": self.rng.randint(1, 5)}}


def generate(root: Path, frames: int, files: int) -> None:
    """Write the raw lake of the benchmark (deterministic for a given size)."""
    maker = FrameMaker()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    per_file = frames // files
    tmp = root.with_name(root.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    for f in range(files):
        t0 = start + timedelta(hours=f)
        part = tmp / "raw" / f"date={t0:%Y-%m-%d}" / f"hour={t0:%H}"
        part.mkdir(parents=True, exist_ok=True)
        times, seqs, texts = [], [], []
        for j in range(per_file):
            i = f * per_file + j
            t = t0 + timedelta(milliseconds=j * 3)
            times.append(t)
            seqs.append(i)
            texts.append(orjson.dumps(maker.frame(i, t)).decode())
        n = len(texts)
        table = pa.table({"received_at": times, "direction": ["in"] * n,
                          "connection_id": ["bench"] * n, "seq": seqs, "frame": texts},
                         schema=RAW_SCHEMA)
        pq.write_table(table, part / f"bench-{f:04d}.parquet", compression="zstd")
    tmp.rename(root)


def baseline(raw_files: list[Path], *, fetch: bool = True) -> tuple[int, float]:
    """The records columns extracted by one DuckDB query: frames and seconds.

    ``fetch``: the result is fetched as Arrow (the baseline); otherwise only counted.
    """
    paths = "[" + ", ".join(f"'{p}'" for p in RECORD_PATHS) + "]"
    query = f"SELECT json_extract_string(frame, {paths}) AS v FROM read_parquet($files)"
    params = {"files": [str(f) for f in raw_files]}
    con = duckdb.connect()
    started = time.perf_counter()
    if fetch:
        n = con.sql(query, params=params).to_arrow_table().num_rows
    else:
        n = con.sql(f"SELECT count(*), count(v[4]) FROM ({query})",
                    params=params).fetchall()[0][0]
    return n, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=1_000_000)
    parser.add_argument("--files", type=int, default=20)
    args = parser.parse_args()

    raw_root = OUT / f"transform-raw-{args.frames}-{args.files}"
    if not raw_root.exists():
        print(f"generating {args.frames} frames into {raw_root} ...", file=sys.stderr)
        generate(raw_root, args.frames, args.files)
    raw_files = sorted((raw_root / "raw").rglob("*.parquet"))

    work = OUT / "transform-work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    (work / "raw").symlink_to(raw_root / "raw")

    cpu = time.process_time()
    n_base, t_before = baseline(raw_files)
    cpu_base = time.process_time() - cpu
    _, t_count_before = baseline(raw_files, fetch=False)
    cpu = time.process_time()
    summary = transform_lake(work, durable=False)
    cpu_full = time.process_time() - cpu
    t_full = summary.seconds
    # The machine is shared: the baselines run before and after, and the faster run counts
    # (the conservative choice for the ratios).
    _, t_after = baseline(raw_files)
    _, t_count_after = baseline(raw_files, fetch=False)
    t_base = min(t_before, t_after)
    t_count = min(t_count_before, t_count_after)
    rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024

    base_rate = n_base / t_base
    count_rate = n_base / t_count
    full_rate = summary.frames / t_full
    ratio = full_rate / base_rate
    print(f"frames: {summary.frames} in {len(raw_files)} raw files")
    print(f"baseline (records columns, one json_extract_string query, fetched): "
          f"{base_rate:,.0f} frames/s ({t_base:.2f} s; runs {t_before:.2f} s, {t_after:.2f} s)")
    print(f"baseline, count only (same query, nothing fetched): "
          f"{count_rate:,.0f} frames/s ({t_count:.2f} s; runs {t_count_before:.2f} s, "
          f"{t_count_after:.2f} s)")
    print(f"full transform (route, type, pandera, dedup, quarantine, write): "
          f"{full_rate:,.0f} frames/s ({t_full:.2f} s)")
    print(f"ratio full/baseline: {ratio:.2f} (target >= 0.5); "
          f"full/count-only baseline: {full_rate / count_rate:.2f}")
    # CPU seconds (all threads) depend less on what else runs on the machine.
    print(f"cpu seconds: baseline {cpu_base:.2f}, full {cpu_full:.2f} "
          f"(cpu ratio {cpu_base / cpu_full:.2f})")
    print(f"peak RSS: {rss_gb:.2f} GB (target < 1.5 GB)")
    print(f"rows: {dict(sorted(summary.rows.items()))}")
    print(f"reconciles: {summary.reconciles}")
    return 0 if summary.reconciles else 1


if __name__ == "__main__":
    sys.exit(main())
