"""Pandera models of the warehouse marts (DESIGN.md "Marts"): what a valid row looks like.

``warehouse.checks`` validates the rows each build touched against these models, on polars
frames read from DuckDB; a violation fails the build (and the Airflow run) before publish.
Rules that span rows or tables (odometer reconciliation, completeness) live in
``warehouse.checks`` as SQL.
"""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

UTC_TIME = pl.Datetime(time_unit="us", time_zone="UTC")

MESSAGE_STATUSES = ["sent", "not_processed", "buffered", "error", "pending", "delivered", "read"]


class _Model(pa.DataFrameModel):
    class Config:
        strict = False  # extension columns are welcome
        coerce = False


class TripsModel(_Model):
    trip_id: pl.Utf8 = pa.Field(unique=True, str_length={"min_value": 32, "max_value": 32})
    vid: pl.Int64
    uid: pl.Int64 = pa.Field(nullable=True)
    start_time: UTC_TIME  # type: ignore[valid-type]
    end_time: UTC_TIME  # type: ignore[valid-type]
    duration_s: pl.Float64 = pa.Field(ge=0)
    start_lat: pl.Float64 = pa.Field(nullable=True, in_range={"min_value": -90, "max_value": 90})
    start_lon: pl.Float64 = pa.Field(nullable=True, in_range={"min_value": -180, "max_value": 180})
    end_lat: pl.Float64 = pa.Field(nullable=True, in_range={"min_value": -90, "max_value": 90})
    end_lon: pl.Float64 = pa.Field(nullable=True, in_range={"min_value": -180, "max_value": 180})
    distance_km: pl.Float64 = pa.Field(ge=0)
    distance_source: pl.Utf8 = pa.Field(isin=["odometer", "gps"])
    gps_distance_km: pl.Float64 = pa.Field(ge=0)
    max_speed_kmh: pl.Float64 = pa.Field(nullable=True, ge=0)
    avg_speed_kmh: pl.Float64 = pa.Field(nullable=True, ge=0)
    n_records: pl.Int64 = pa.Field(ge=2)
    longest_gap_s: pl.Float64 = pa.Field(ge=0)
    idle_s: pl.Float64 = pa.Field(nullable=True, ge=0)
    driver_card: pl.Utf8 = pa.Field(nullable=True)
    detection: pl.Utf8 = pa.Field(isin=["ignition", "motion"])
    flags: pl.List(pl.Utf8)  # type: ignore[valid-type]
    is_open: pl.Boolean
    end_reason: pl.Utf8 = pa.Field(isin=["arrival", "gap", "open", "signal_lost"])

    @pa.dataframe_check
    def ends_after_start(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("end_time") >= pl.col("start_time"))

    @pa.dataframe_check
    def open_flag_matches(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(
            pl.col("flags").list.contains("open") == pl.col("is_open")
        )

    @pa.dataframe_check
    def never_open_and_signal_lost(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(
            ~(pl.col("is_open") & pl.col("flags").list.contains("signal_lost"))
        )

    @pa.dataframe_check
    def idle_within_trip(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(
            pl.col("idle_s").is_null() | (pl.col("idle_s") <= pl.col("duration_s") + 0.001)
        )

    @pa.dataframe_check
    def top_speed_below_average_is_sparse(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(
            (pl.col("max_speed_kmh") >= pl.col("avg_speed_kmh")).fill_null(True)
            | pl.col("flags").list.contains("sparse")
        )


class StopsModel(_Model):
    vid: pl.Int64
    start_time: UTC_TIME  # type: ignore[valid-type]
    end_time: UTC_TIME  # type: ignore[valid-type]
    duration_s: pl.Float64 = pa.Field(ge=0)
    lat: pl.Float64 = pa.Field(nullable=True, in_range={"min_value": -90, "max_value": 90})
    lon: pl.Float64 = pa.Field(nullable=True, in_range={"min_value": -180, "max_value": 180})
    idle_s: pl.Float64 = pa.Field(nullable=True, ge=0)
    is_open: pl.Boolean
    flags: pl.List(pl.Utf8)  # type: ignore[valid-type]

    @pa.dataframe_check
    def idle_within_stop(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(
            pl.col("idle_s").is_null() | (pl.col("idle_s") <= pl.col("duration_s") + 0.001)
        )

    @pa.dataframe_check
    def open_flag_matches(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(
            pl.col("flags").list.contains("open") == pl.col("is_open")
        )


class IoChangesModel(_Model):
    vid: pl.Int64 = pa.Field(nullable=True)
    uid: pl.Int64
    io: pl.Int32
    changed_at: UTC_TIME  # type: ignore[valid-type]
    from_value: pl.Float64 = pa.Field(nullable=True)
    to_value: pl.Float64
    previous_changed_at: UTC_TIME = pa.Field(nullable=True)  # type: ignore[valid-type]
    seconds_in_previous_state: pl.Float64 = pa.Field(nullable=True, ge=0)
    source: pl.Utf8 = pa.Field(isin=["record_io", "io_event", "io_snapshot"])

    @pa.dataframe_check
    def a_change_changes_the_value(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(
            pl.col("from_value").is_null() | (pl.col("from_value") != pl.col("to_value"))
        )


class MessageLatencyModel(_Model):
    message_id: pl.Utf8 = pa.Field(nullable=True)
    guid: pl.Utf8 = pa.Field(nullable=True)
    uid: pl.Int64 = pa.Field(nullable=True)
    sent_at: UTC_TIME = pa.Field(nullable=True)  # type: ignore[valid-type]
    processed_at: UTC_TIME = pa.Field(nullable=True)  # type: ignore[valid-type]
    pending_at: UTC_TIME = pa.Field(nullable=True)  # type: ignore[valid-type]
    delivered_at: UTC_TIME = pa.Field(nullable=True)  # type: ignore[valid-type]
    read_at: UTC_TIME = pa.Field(nullable=True)  # type: ignore[valid-type]
    error_at: UTC_TIME = pa.Field(nullable=True)  # type: ignore[valid-type]
    seconds_to_delivered: pl.Float64 = pa.Field(nullable=True)
    seconds_to_read: pl.Float64 = pa.Field(nullable=True)
    final_status: pl.Utf8 = pa.Field(isin=MESSAGE_STATUSES)

    @pa.dataframe_check
    def identified(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(
            pl.col("message_id").is_not_null() | pl.col("guid").is_not_null()
        )


class EventLatencyModel(_Model):
    kind: pl.Utf8 = pa.Field(isin=["event", "io_event", "driver_message", "form"])
    source_id: pl.Utf8
    uid: pl.Int64 = pa.Field(nullable=True)
    tmx: UTC_TIME  # type: ignore[valid-type]
    rmx: UTC_TIME = pa.Field(nullable=True)  # type: ignore[valid-type]
    received_at: UTC_TIME  # type: ignore[valid-type]
    device_to_server_s: pl.Float64 = pa.Field(nullable=True)
    server_to_pipeline_s: pl.Float64 = pa.Field(nullable=True)


class VehicleDailyModel(_Model):
    vid: pl.Int64
    day: pl.Date
    trips: pl.Int64 = pa.Field(ge=0)
    distance_km: pl.Float64 = pa.Field(ge=0)
    driving_s: pl.Float64 = pa.Field(ge=0, le=2 * 86400)
    idle_s: pl.Float64 = pa.Field(nullable=True, ge=0)
    max_speed_kmh: pl.Float64 = pa.Field(nullable=True, ge=0)
    first_seen: UTC_TIME  # type: ignore[valid-type]
    last_seen: UTC_TIME  # type: ignore[valid-type]

    @pa.dataframe_check
    def seen_in_order(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("first_seen") <= pl.col("last_seen"))


MART_MODELS: dict[str, type[pa.DataFrameModel]] = {
    "trips": TripsModel,
    "stops": StopsModel,
    "io_changes": IoChangesModel,
    "message_latency": MessageLatencyModel,
    "event_latency": EventLatencyModel,
    "vehicle_daily": VehicleDailyModel,
}
