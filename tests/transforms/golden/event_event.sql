-- route event:event: rows query
WITH frames AS (
    SELECT _file, _row, seq, received_at, connection_id, doc
    FROM "event:event frames"
), typed AS (
    SELECT * EXCLUDE (_s),
    CASE WHEN _s."uid" = trunc(_s."uid") THEN TRY_CAST(_s."uid" AS BIGINT) END AS "uid",
    _s."params"."sub-type" AS "sub_type",
    CASE WHEN _s."params"."record"."vid" = trunc(_s."params"."record"."vid") THEN TRY_CAST(_s."params"."record"."vid" AS BIGINT) END AS "vid",
    TRY_CAST(_s."params"."record"."tmx" AS TIMESTAMPTZ) AS "tmx",
    _s."params"."record"."_id" AS "record_id",
    CASE WHEN _s."params"."record"."dmx" = trunc(_s."params"."record"."dmx") THEN TRY_CAST(_s."params"."record"."dmx" AS INTEGER) END AS "dmx",
    _s."params"."record"."loc"."lat" AS "lat",
    _s."params"."record"."loc"."lon" AS "lon",
    _s."params"."record"."gsp" AS "gsp",
    _s."params"."record"."hdg" AS "hdg",
    CASE WHEN _s."params"."record"."gkm" = trunc(_s."params"."record"."gkm") THEN TRY_CAST(_s."params"."record"."gkm" AS BIGINT) END AS "gkm",
    CASE WHEN _s."params"."record"."cas" = trunc(_s."params"."record"."cas") THEN TRY_CAST(_s."params"."record"."cas" AS INTEGER) END AS "cas",
    CASE WHEN _s."params"."record"."exd"."sat" = trunc(_s."params"."record"."exd"."sat") THEN TRY_CAST(_s."params"."record"."exd"."sat" AS INTEGER) END AS "sat",
    _s."params"."record"."exd"."alt" AS "alt",
    CASE WHEN _s."params"."record"."exd"."bpp" = trunc(_s."params"."record"."exd"."bpp") THEN TRY_CAST(_s."params"."record"."exd"."bpp" AS INTEGER) END AS "bpp",
    CASE WHEN _s."params"."record"."exd"."eco"."edt" = trunc(_s."params"."record"."exd"."eco"."edt") THEN TRY_CAST(_s."params"."record"."exd"."eco"."edt" AS INTEGER) END AS "edt",
    CASE WHEN _s."params"."record"."exd"."eco"."aat" = trunc(_s."params"."record"."exd"."eco"."aat") THEN TRY_CAST(_s."params"."record"."exd"."eco"."aat" AS INTEGER) END AS "aat",
    CASE WHEN _s."params"."record"."exd"."eco"."rpm" = trunc(_s."params"."record"."exd"."eco"."rpm") THEN TRY_CAST(_s."params"."record"."exd"."eco"."rpm" AS INTEGER) END AS "rpm",
    _s."params"."record"."exd"."eco"."flv" AS "flv",
    _s."params"."record"."exd"."eco"."ehr" AS "ehr",
    _s."params"."record"."exd"."eco"."dcl" AS "dcl",
    CASE WHEN json_type(_s."params"."record"."exd"."io") = 'OBJECT' THEN _s."params"."record"."exd"."io" END AS "io_map",
    CASE WHEN _s."params"."record"."exd"."tlm"."tio" = trunc(_s."params"."record"."exd"."tlm"."tio") THEN TRY_CAST(_s."params"."record"."exd"."tlm"."tio" AS INTEGER) END AS "tio",
    _s."params"."record"."exd"."tlm"."tlv" AS "tlv",
    _s."params"."event"."_id" AS "event_id",
    _s."params"."event"."hid" AS "hid",
    CASE WHEN _s."params"."event"."mid" = trunc(_s."params"."event"."mid") THEN TRY_CAST(_s."params"."event"."mid" AS BIGINT) END AS "mid",
    CASE WHEN _s."params"."event"."eid" = trunc(_s."params"."event"."eid") THEN TRY_CAST(_s."params"."event"."eid" AS INTEGER) END AS "eid",
    TRY_CAST(_s."params"."event"."tmx" AS TIMESTAMPTZ) AS "ev_tmx",
    TRY_CAST(_s."params"."event"."rmx" AS TIMESTAMPTZ) AS "rmx",
    _s."params"."event"."lat" AS "ev_lat",
    _s."params"."event"."lng" AS "ev_lng",
    CASE WHEN _s."params"."event"."sts" = trunc(_s."params"."event"."sts") THEN TRY_CAST(_s."params"."event"."sts" AS INTEGER) END AS "sts",
    _s."params"."event"."frc" AS "frc",
    _s."params"."event"."src" AS "src"
    FROM (SELECT *, json_transform(doc, '{"uid": "DOUBLE", "params": {"sub-type": "VARCHAR", "record": {"vid": "DOUBLE", "tmx": "VARCHAR", "_id": "VARCHAR", "dmx": "DOUBLE", "loc": {"lat": "DOUBLE", "lon": "DOUBLE"}, "gsp": "DOUBLE", "hdg": "DOUBLE", "gkm": "DOUBLE", "cas": "DOUBLE", "exd": {"sat": "DOUBLE", "alt": "DOUBLE", "bpp": "DOUBLE", "eco": {"edt": "DOUBLE", "aat": "DOUBLE", "rpm": "DOUBLE", "flv": "DOUBLE", "ehr": "DOUBLE", "dcl": "VARCHAR"}, "io": "JSON", "tlm": {"tio": "DOUBLE", "tlv": "DOUBLE"}}}, "event": {"_id": "VARCHAR", "hid": "VARCHAR", "mid": "DOUBLE", "eid": "DOUBLE", "tmx": "VARCHAR", "rmx": "VARCHAR", "lat": "DOUBLE", "lng": "DOUBLE", "sts": "DOUBLE", "frc": "VARCHAR", "src": "VARCHAR"}}}') AS _s FROM frames)
), listed AS (
    SELECT *, json_keys(doc, ['$', '$.params', '$.params.record', '$.params.record.loc', '$.params.record.exd', '$.params.record.exd.eco', '$.params.record.exd.tlm', '$.params.event']) AS _keys FROM typed
), checked AS (
    SELECT *, coalesce(len(list_filter(coalesce(_keys[1], []), lambda k: NOT list_contains(['uid', 'params'], k))) > 0
        OR len(list_filter(coalesce(_keys[2], []), lambda k: NOT list_contains(['type', 'sub-type', 'record', 'event'], k))) > 0
        OR len(list_filter(coalesce(_keys[3], []), lambda k: NOT list_contains(['tmx', 'vid', '_id', 'dmx', 'loc', 'gsp', 'hdg', 'gkm', 'cas', 'exd'], k))) > 0
        OR len(list_filter(coalesce(_keys[4], []), lambda k: NOT list_contains(['lat', 'lon'], k))) > 0
        OR len(list_filter(coalesce(_keys[5], []), lambda k: NOT list_contains(['sat', 'alt', 'bpp', 'eco', 'io', 'tlm'], k))) > 0
        OR len(list_filter(coalesce(_keys[6], []), lambda k: NOT list_contains(['edt', 'aat', 'rpm', 'ehr', 'flv', 'dcl'], k))) > 0
        OR len(list_filter(coalesce(_keys[7], []), lambda k: NOT list_contains(['tio', 'tlv'], k))) > 0
        OR len(list_filter(coalesce(_keys[8], []), lambda k: NOT list_contains(['_id', 'hid', 'mid', 'eid', 'tmx', 'rmx', 'lat', 'lng', 'sts', 'frc', 'src'], k))) > 0
        OR CASE WHEN _keys[1] IS NOT NULL AND ("uid" IS NULL)
        THEN ("uid" IS NULL AND list_contains(_keys[1], 'uid')) ELSE false END
        OR CASE WHEN _keys[3] IS NOT NULL AND ("vid" IS NULL OR "tmx" IS NULL OR "dmx" IS NULL OR "gsp" IS NULL OR "hdg" IS NULL OR "gkm" IS NULL OR "cas" IS NULL)
        THEN ("vid" IS NULL AND list_contains(_keys[3], 'vid')) OR ("tmx" IS NULL AND list_contains(_keys[3], 'tmx')) OR ("dmx" IS NULL AND list_contains(_keys[3], 'dmx')) OR ("gsp" IS NULL AND list_contains(_keys[3], 'gsp')) OR ("hdg" IS NULL AND list_contains(_keys[3], 'hdg')) OR ("gkm" IS NULL AND list_contains(_keys[3], 'gkm')) OR ("cas" IS NULL AND list_contains(_keys[3], 'cas')) ELSE false END
        OR CASE WHEN _keys[4] IS NOT NULL AND ("lat" IS NULL OR "lon" IS NULL)
        THEN ("lat" IS NULL AND list_contains(_keys[4], 'lat')) OR ("lon" IS NULL AND list_contains(_keys[4], 'lon')) ELSE false END
        OR CASE WHEN _keys[5] IS NOT NULL AND ("sat" IS NULL OR "alt" IS NULL OR "bpp" IS NULL OR "io_map" IS NULL)
        THEN ("sat" IS NULL AND list_contains(_keys[5], 'sat')) OR ("alt" IS NULL AND list_contains(_keys[5], 'alt')) OR ("bpp" IS NULL AND list_contains(_keys[5], 'bpp')) OR ("io_map" IS NULL AND list_contains(_keys[5], 'io')) ELSE false END
        OR CASE WHEN _keys[6] IS NOT NULL AND ("edt" IS NULL OR "aat" IS NULL OR "rpm" IS NULL OR "flv" IS NULL OR "ehr" IS NULL)
        THEN ("edt" IS NULL AND list_contains(_keys[6], 'edt')) OR ("aat" IS NULL AND list_contains(_keys[6], 'aat')) OR ("rpm" IS NULL AND list_contains(_keys[6], 'rpm')) OR ("flv" IS NULL AND list_contains(_keys[6], 'flv')) OR ("ehr" IS NULL AND list_contains(_keys[6], 'ehr')) ELSE false END
        OR CASE WHEN _keys[7] IS NOT NULL AND ("tio" IS NULL OR "tlv" IS NULL)
        THEN ("tio" IS NULL AND list_contains(_keys[7], 'tio')) OR ("tlv" IS NULL AND list_contains(_keys[7], 'tlv')) ELSE false END
        OR CASE WHEN _keys[8] IS NOT NULL AND ("mid" IS NULL OR "eid" IS NULL OR "ev_tmx" IS NULL OR "rmx" IS NULL OR "ev_lat" IS NULL OR "ev_lng" IS NULL OR "sts" IS NULL)
        THEN ("mid" IS NULL AND list_contains(_keys[8], 'mid')) OR ("eid" IS NULL AND list_contains(_keys[8], 'eid')) OR ("ev_tmx" IS NULL AND list_contains(_keys[8], 'tmx')) OR ("rmx" IS NULL AND list_contains(_keys[8], 'rmx')) OR ("ev_lat" IS NULL AND list_contains(_keys[8], 'lat')) OR ("ev_lng" IS NULL AND list_contains(_keys[8], 'lng')) OR ("sts" IS NULL AND list_contains(_keys[8], 'sts')) ELSE false END
        OR CASE WHEN "io_map" IS NULL OR regexp_full_match("io_map", '\{("\d{1,9}":-?\d{1,18}(\.\d{1,18})?(,"\d{1,9}":-?\d{1,18}(\.\d{1,18})?)*)?\}') THEN false ELSE coalesce(list_bool_or(list_transform(map_entries(TRY(json_transform("io_map", '"MAP(VARCHAR, VARCHAR)"'))), lambda e: coalesce(TRY_CAST(e.key AS INTEGER) IS NULL OR (e.value IS NOT NULL AND TRY_CAST(e.value AS DOUBLE) IS NULL), false))), false) END, true) AS _check FROM listed
), detailed AS (
    SELECT *,
    CASE WHEN _check THEN nullif(concat_ws('; ',
        CASE WHEN _v[1] IS NOT NULL AND "uid" IS NULL THEN 'uid: ' || '"' || left(_v[1], 60) || '"' || ' is not an integer' END,
        CASE WHEN _v[3] IS NOT NULL AND "vid" IS NULL THEN 'params.record.vid: ' || '"' || left(_v[3], 60) || '"' || ' is not an integer' END,
        CASE WHEN _v[4] IS NOT NULL AND "tmx" IS NULL THEN 'params.record.tmx: ' || '"' || left(_v[4], 60) || '"' || ' is not a timestamp' END,
        CASE WHEN _v[6] IS NOT NULL AND "dmx" IS NULL THEN 'params.record.dmx: ' || '"' || left(_v[6], 60) || '"' || ' is not an integer' END,
        CASE WHEN _v[7] IS NOT NULL AND "lat" IS NULL THEN 'params.record.loc.lat: ' || '"' || left(_v[7], 60) || '"' || ' is not a number' END,
        CASE WHEN _v[8] IS NOT NULL AND "lon" IS NULL THEN 'params.record.loc.lon: ' || '"' || left(_v[8], 60) || '"' || ' is not a number' END,
        CASE WHEN _v[9] IS NOT NULL AND "gsp" IS NULL THEN 'params.record.gsp: ' || '"' || left(_v[9], 60) || '"' || ' is not a number' END,
        CASE WHEN _v[10] IS NOT NULL AND "hdg" IS NULL THEN 'params.record.hdg: ' || '"' || left(_v[10], 60) || '"' || ' is not a number' END,
        CASE WHEN _v[11] IS NOT NULL AND "gkm" IS NULL THEN 'params.record.gkm: ' || '"' || left(_v[11], 60) || '"' || ' is not an integer' END,
        CASE WHEN _v[12] IS NOT NULL AND "cas" IS NULL THEN 'params.record.cas: ' || '"' || left(_v[12], 60) || '"' || ' is not an integer' END,
        CASE WHEN _v[13] IS NOT NULL AND "sat" IS NULL THEN 'params.record.exd.sat: ' || '"' || left(_v[13], 60) || '"' || ' is not an integer' END,
        CASE WHEN _v[14] IS NOT NULL AND "alt" IS NULL THEN 'params.record.exd.alt: ' || '"' || left(_v[14], 60) || '"' || ' is not a number' END,
        CASE WHEN _v[15] IS NOT NULL AND "bpp" IS NULL THEN 'params.record.exd.bpp: ' || '"' || left(_v[15], 60) || '"' || ' is not an integer' END,
        CASE WHEN _v[16] IS NOT NULL AND "edt" IS NULL THEN 'params.record.exd.eco.edt: ' || '"' || left(_v[16], 60) || '"' || ' is not an integer' END,
        CASE WHEN _v[17] IS NOT NULL AND "aat" IS NULL THEN 'params.record.exd.eco.aat: ' || '"' || left(_v[17], 60) || '"' || ' is not an integer' END,
        CASE WHEN _v[18] IS NOT NULL AND "rpm" IS NULL THEN 'params.record.exd.eco.rpm: ' || '"' || left(_v[18], 60) || '"' || ' is not an integer' END,
        CASE WHEN _v[19] IS NOT NULL AND "flv" IS NULL THEN 'params.record.exd.eco.flv: ' || '"' || left(_v[19], 60) || '"' || ' is not a number' END,
        CASE WHEN _v[20] IS NOT NULL AND "ehr" IS NULL THEN 'params.record.exd.eco.ehr: ' || '"' || left(_v[20], 60) || '"' || ' is not a number' END,
        CASE WHEN _v[22] IS NOT NULL AND "io_map" IS NULL THEN 'params.record.exd.io: ' || '"' || left(_v[22], 60) || '"' || ' is not an object' END,
        CASE WHEN _v[23] IS NOT NULL AND "tio" IS NULL THEN 'params.record.exd.tlm.tio: ' || '"' || left(_v[23], 60) || '"' || ' is not an integer' END,
        CASE WHEN _v[24] IS NOT NULL AND "tlv" IS NULL THEN 'params.record.exd.tlm.tlv: ' || '"' || left(_v[24], 60) || '"' || ' is not a number' END,
        CASE WHEN _v[27] IS NOT NULL AND "mid" IS NULL THEN 'params.event.mid: ' || '"' || left(_v[27], 60) || '"' || ' is not an integer' END,
        CASE WHEN _v[28] IS NOT NULL AND "eid" IS NULL THEN 'params.event.eid: ' || '"' || left(_v[28], 60) || '"' || ' is not an integer' END,
        CASE WHEN _v[29] IS NOT NULL AND "ev_tmx" IS NULL THEN 'params.event.tmx: ' || '"' || left(_v[29], 60) || '"' || ' is not a timestamp' END,
        CASE WHEN _v[30] IS NOT NULL AND "rmx" IS NULL THEN 'params.event.rmx: ' || '"' || left(_v[30], 60) || '"' || ' is not a timestamp' END,
        CASE WHEN _v[31] IS NOT NULL AND "ev_lat" IS NULL THEN 'params.event.lat: ' || '"' || left(_v[31], 60) || '"' || ' is not a number' END,
        CASE WHEN _v[32] IS NOT NULL AND "ev_lng" IS NULL THEN 'params.event.lng: ' || '"' || left(_v[32], 60) || '"' || ' is not a number' END,
        CASE WHEN _v[33] IS NOT NULL AND "sts" IS NULL THEN 'params.event.sts: ' || '"' || left(_v[33], 60) || '"' || ' is not an integer' END,
        CASE WHEN CASE WHEN "io_map" IS NULL OR regexp_full_match("io_map", '\{("\d{1,9}":-?\d{1,18}(\.\d{1,18})?(,"\d{1,9}":-?\d{1,18}(\.\d{1,18})?)*)?\}') THEN false ELSE coalesce(list_bool_or(list_transform(map_entries(TRY(json_transform("io_map", '"MAP(VARCHAR, VARCHAR)"'))), lambda e: coalesce(TRY_CAST(e.key AS INTEGER) IS NULL OR (e.value IS NOT NULL AND TRY_CAST(e.value AS DOUBLE) IS NULL), false))), false) END THEN 'params.record.exd.io: an entry has a key or value of the wrong type' END), '') END AS _type_errors,
    CASE WHEN _check THEN nullif(TRY(to_json(map_from_entries(flatten([
        CASE WHEN len(list_filter(coalesce(_keys[1], []), lambda k: NOT list_contains(['uid', 'params'], k))) > 0 THEN coalesce(list_transform(list_filter(map_entries(TRY(json_transform(doc, '"MAP(VARCHAR, JSON)"'))), lambda e: NOT list_contains(['uid', 'params'], e.key)), lambda e: {'key': '' || e.key, 'value': e.value}), []) ELSE [] END,
        CASE WHEN len(list_filter(coalesce(_keys[2], []), lambda k: NOT list_contains(['type', 'sub-type', 'record', 'event'], k))) > 0 THEN coalesce(list_transform(list_filter(map_entries(TRY(json_transform(json_extract(doc, '$.params'), '"MAP(VARCHAR, JSON)"'))), lambda e: NOT list_contains(['type', 'sub-type', 'record', 'event'], e.key)), lambda e: {'key': 'params.' || e.key, 'value': e.value}), []) ELSE [] END,
        CASE WHEN len(list_filter(coalesce(_keys[3], []), lambda k: NOT list_contains(['tmx', 'vid', '_id', 'dmx', 'loc', 'gsp', 'hdg', 'gkm', 'cas', 'exd'], k))) > 0 THEN coalesce(list_transform(list_filter(map_entries(TRY(json_transform(json_extract(doc, '$.params.record'), '"MAP(VARCHAR, JSON)"'))), lambda e: NOT list_contains(['tmx', 'vid', '_id', 'dmx', 'loc', 'gsp', 'hdg', 'gkm', 'cas', 'exd'], e.key)), lambda e: {'key': 'params.record.' || e.key, 'value': e.value}), []) ELSE [] END,
        CASE WHEN len(list_filter(coalesce(_keys[4], []), lambda k: NOT list_contains(['lat', 'lon'], k))) > 0 THEN coalesce(list_transform(list_filter(map_entries(TRY(json_transform(json_extract(doc, '$.params.record.loc'), '"MAP(VARCHAR, JSON)"'))), lambda e: NOT list_contains(['lat', 'lon'], e.key)), lambda e: {'key': 'params.record.loc.' || e.key, 'value': e.value}), []) ELSE [] END,
        CASE WHEN len(list_filter(coalesce(_keys[5], []), lambda k: NOT list_contains(['sat', 'alt', 'bpp', 'eco', 'io', 'tlm'], k))) > 0 THEN coalesce(list_transform(list_filter(map_entries(TRY(json_transform(json_extract(doc, '$.params.record.exd'), '"MAP(VARCHAR, JSON)"'))), lambda e: NOT list_contains(['sat', 'alt', 'bpp', 'eco', 'io', 'tlm'], e.key)), lambda e: {'key': 'params.record.exd.' || e.key, 'value': e.value}), []) ELSE [] END,
        CASE WHEN len(list_filter(coalesce(_keys[6], []), lambda k: NOT list_contains(['edt', 'aat', 'rpm', 'ehr', 'flv', 'dcl'], k))) > 0 THEN coalesce(list_transform(list_filter(map_entries(TRY(json_transform(json_extract(doc, '$.params.record.exd.eco'), '"MAP(VARCHAR, JSON)"'))), lambda e: NOT list_contains(['edt', 'aat', 'rpm', 'ehr', 'flv', 'dcl'], e.key)), lambda e: {'key': 'params.record.exd.eco.' || e.key, 'value': e.value}), []) ELSE [] END,
        CASE WHEN len(list_filter(coalesce(_keys[7], []), lambda k: NOT list_contains(['tio', 'tlv'], k))) > 0 THEN coalesce(list_transform(list_filter(map_entries(TRY(json_transform(json_extract(doc, '$.params.record.exd.tlm'), '"MAP(VARCHAR, JSON)"'))), lambda e: NOT list_contains(['tio', 'tlv'], e.key)), lambda e: {'key': 'params.record.exd.tlm.' || e.key, 'value': e.value}), []) ELSE [] END,
        CASE WHEN len(list_filter(coalesce(_keys[8], []), lambda k: NOT list_contains(['_id', 'hid', 'mid', 'eid', 'tmx', 'rmx', 'lat', 'lng', 'sts', 'frc', 'src'], k))) > 0 THEN coalesce(list_transform(list_filter(map_entries(TRY(json_transform(json_extract(doc, '$.params.event'), '"MAP(VARCHAR, JSON)"'))), lambda e: NOT list_contains(['_id', 'hid', 'mid', 'eid', 'tmx', 'rmx', 'lat', 'lng', 'sts', 'frc', 'src'], e.key)), lambda e: {'key': 'params.event.' || e.key, 'value': e.value}), []) ELSE [] END])))::VARCHAR), '{}') END AS extra
    FROM (SELECT *, CASE WHEN _check THEN json_extract_string(doc, ['$.uid', '$.params.sub-type', '$.params.record.vid', '$.params.record.tmx', '$.params.record._id', '$.params.record.dmx', '$.params.record.loc.lat', '$.params.record.loc.lon', '$.params.record.gsp', '$.params.record.hdg', '$.params.record.gkm', '$.params.record.cas', '$.params.record.exd.sat', '$.params.record.exd.alt', '$.params.record.exd.bpp', '$.params.record.exd.eco.edt', '$.params.record.exd.eco.aat', '$.params.record.exd.eco.rpm', '$.params.record.exd.eco.flv', '$.params.record.exd.eco.ehr', '$.params.record.exd.eco.dcl', '$.params.record.exd.io', '$.params.record.exd.tlm.tio', '$.params.record.exd.tlm.tlv', '$.params.event._id', '$.params.event.hid', '$.params.event.mid', '$.params.event.eid', '$.params.event.tmx', '$.params.event.rmx', '$.params.event.lat', '$.params.event.lng', '$.params.event.sts', '$.params.event.frc', '$.params.event.src']) END AS _v
          FROM checked)
)
SELECT _file, _row, _type_errors,
    {
        "event_id": CAST(event_id AS VARCHAR),
        "record_id": CAST(hid AS VARCHAR),
        "uid": CAST(uid AS BIGINT),
        "vid": CAST(vid AS BIGINT),
        "sub_type": CAST(sub_type AS VARCHAR),
        "eid": CAST(eid AS INTEGER),
        "mid": CAST(mid AS BIGINT),
        "tmx": CAST(ev_tmx AS TIMESTAMPTZ),
        "rmx": CAST(rmx AS TIMESTAMPTZ),
        "received_at": CAST(received_at AS TIMESTAMPTZ),
        "lat": CAST(ev_lat AS DOUBLE),
        "lon": CAST(ev_lng AS DOUBLE),
        "sts": CAST(sts AS INTEGER),
        "frc": CAST(frc AS VARCHAR),
        "src": CAST(src AS VARCHAR),
        "extra": CAST(extra AS VARCHAR),
        "seq": CAST(seq AS BIGINT)} AS "events",
    CASE WHEN _keys[3] IS NOT NULL THEN {
        "uid": CAST(uid AS BIGINT),
        "vid": CAST(vid AS BIGINT),
        "tmx": CAST(tmx AS TIMESTAMPTZ),
        "received_at": CAST(received_at AS TIMESTAMPTZ),
        "batch_total": CAST(NULL AS INTEGER),
        "source": CAST('event' AS VARCHAR),
        "record_id": CAST(record_id AS VARCHAR),
        "dmx": CAST(dmx AS INTEGER),
        "lat": CAST(lat AS DOUBLE),
        "lon": CAST(lon AS DOUBLE),
        "speed_kmh": CAST(gsp AS DOUBLE),
        "heading": CAST(hdg AS DOUBLE),
        "odometer": CAST(nullif(gkm, -1) AS BIGINT),
        "cas": CAST(cas AS INTEGER),
        "sat": CAST(sat AS INTEGER),
        "alt": CAST(alt AS DOUBLE),
        "bpp": CAST(bpp AS INTEGER),
        "edt": CAST(edt AS INTEGER),
        "aat": CAST(aat AS INTEGER),
        "rpm": CAST(rpm AS INTEGER),
        "fuel_level": CAST(flv AS DOUBLE),
        "engine_hours": CAST(ehr AS DOUBLE),
        "driver_card": CAST(dcl AS VARCHAR),
        "extra": CAST(NULL AS VARCHAR),
        "seq": CAST(seq AS BIGINT)} END AS "records",
    {
        "entries": "io_map",
        "vid": CAST(vid AS BIGINT),
        "tmx": CAST(tmx AS TIMESTAMPTZ),
        "uid": CAST(uid AS BIGINT),
        "received_at": CAST(received_at AS TIMESTAMPTZ),
        "seq": CAST(seq AS BIGINT)} AS "record_io"
FROM detailed

-- route event:event: child table record_io
SELECT _file, _row,
    "vid",
    "tmx",
    CAST(TRY_CAST(e.key AS INTEGER) AS INTEGER) AS "io",
    CAST(TRY_CAST(e.value AS DOUBLE) AS DOUBLE) AS "value",
    "uid",
    "received_at",
    "seq"
FROM (
    SELECT r.*, {'key': j.key, 'value': CASE WHEN j.value::VARCHAR = 'null' THEN NULL WHEN NOT starts_with(j.value::VARCHAR, '"') THEN j.value::VARCHAR WHEN contains(j.value::VARCHAR, '\') THEN json_extract_string(j.value::VARCHAR, '$') ELSE trim(j.value::VARCHAR, '"') END} AS e, j.id AS _entry
    FROM (SELECT _file, _row, unnest("record_io") FROM "event:event rows") AS r,
        json_each(r."entries") AS j
    WHERE r."entries" IS NOT NULL
)
ORDER BY _file, _row, _entry
