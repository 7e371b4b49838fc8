-- The tables of the marts schema (DESIGN.md "Marts"; the columns after the required ones
-- are extensions). Their rows come from transforms/marts/<mart>.sql.

create table if not exists marts.io_changes (
    vid bigint,
    uid bigint not null,
    io integer not null,
    changed_at timestamptz not null,
    from_value double,                 -- NULL: the first value seen of this input
    to_value double not null,
    previous_changed_at timestamptz,
    seconds_in_previous_state double,
    source varchar not null            -- record_io / io_event / io_snapshot
);

create table if not exists marts.trips (
    trip_id varchar not null,          -- md5 of vid and start time: stable across rebuilds
    vid bigint not null,
    uid bigint,
    start_time timestamptz not null,
    end_time timestamptz not null,
    duration_s double not null,
    start_lat double,
    start_lon double,
    end_lat double,
    end_lon double,
    distance_km double not null,
    distance_source varchar not null,  -- odometer / gps
    gps_distance_km double not null,
    max_speed_kmh double,
    avg_speed_kmh double,
    n_records bigint not null,
    longest_gap_s double not null,     -- the longest step between two records of the trip
    idle_s double,                     -- ignition on at <= 5 km/h; NULL: ignition unknown
    driver_card varchar,
    detection varchar not null,        -- ignition / motion
    flags varchar[] not null,          -- gap_inferred, odometer_reset, open, signal_lost, sparse
    is_open boolean not null,
    end_reason varchar not null,       -- arrival / gap / open / signal_lost
    start_odometer_m bigint,
    end_odometer_m bigint
);

create table if not exists marts.stops (
    vid bigint not null,
    start_time timestamptz not null,
    end_time timestamptz not null,
    duration_s double not null,
    lat double,
    lon double,
    idle_s double,                     -- NULL: ignition unknown
    is_open boolean not null,          -- the stop the vehicle is in now
    flags varchar[] not null           -- first (before its first trip), open
);

create table if not exists marts.vehicle_daily (
    vid bigint not null,
    day date not null,                 -- local day in the configured time zone
    trips bigint not null,
    distance_km double not null,
    driving_s double not null,
    idle_s double,                     -- NULL: the vehicle reported no ignition yet
    max_speed_kmh double,
    first_seen timestamptz not null,
    last_seen timestamptz not null
);

create table if not exists marts.message_latency (
    message_id varchar,                -- NULL until the server acknowledged our message
    guid varchar,                      -- our pnd-api guid; NULL: not sent by this pipeline
    uid bigint,
    sent_at timestamptz,
    not_processed_at timestamptz,      -- txs 0
    processed_at timestamptz,          -- txs 1 (buffered)
    pending_at timestamptz,            -- txs 3
    delivered_at timestamptz,          -- txs 4
    read_at timestamptz,               -- txs 5
    error_at timestamptz,              -- txs 2
    seconds_to_delivered double,
    seconds_to_read double,
    final_status varchar not null,     -- the latest status, or 'sent'
    text varchar
);

create table if not exists marts.event_latency (
    kind varchar not null,             -- event / io_event / driver_message / form
    source_id varchar not null,
    uid bigint,
    vid bigint,
    tmx timestamptz not null,
    rmx timestamptz,
    received_at timestamptz not null,
    device_to_server_s double,
    server_to_pipeline_s double
);
