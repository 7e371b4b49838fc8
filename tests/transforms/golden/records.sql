-- route records: rows query
WITH frames AS (
    SELECT _file, _row, seq, received_at, connection_id, doc
    FROM "records frames"
), typed AS (
    SELECT * EXCLUDE (_s),
    CASE WHEN _s."uid" = trunc(_s."uid") THEN TRY_CAST(_s."uid" AS BIGINT) END AS "uid",
    CASE WHEN _s."params"."total" = trunc(_s."params"."total") THEN TRY_CAST(_s."params"."total" AS INTEGER) END AS "total",
    CASE WHEN _s."params"."lastRecord"."vid" = trunc(_s."params"."lastRecord"."vid") THEN TRY_CAST(_s."params"."lastRecord"."vid" AS BIGINT) END AS "vid",
    TRY_CAST(_s."params"."lastRecord"."tmx" AS TIMESTAMPTZ) AS "tmx",
    _s."params"."lastRecord"."_id" AS "record_id",
    CASE WHEN _s."params"."lastRecord"."dmx" = trunc(_s."params"."lastRecord"."dmx") THEN TRY_CAST(_s."params"."lastRecord"."dmx" AS INTEGER) END AS "dmx",
    _s."params"."lastRecord"."loc"."lat" AS "lat",
    _s."params"."lastRecord"."loc"."lon" AS "lon",
    _s."params"."lastRecord"."gsp" AS "gsp",
    _s."params"."lastRecord"."hdg" AS "hdg",
    CASE WHEN _s."params"."lastRecord"."gkm" = trunc(_s."params"."lastRecord"."gkm") THEN TRY_CAST(_s."params"."lastRecord"."gkm" AS BIGINT) END AS "gkm",
    CASE WHEN _s."params"."lastRecord"."cas" = trunc(_s."params"."lastRecord"."cas") THEN TRY_CAST(_s."params"."lastRecord"."cas" AS INTEGER) END AS "cas",
    CASE WHEN _s."params"."lastRecord"."exd"."sat" = trunc(_s."params"."lastRecord"."exd"."sat") THEN TRY_CAST(_s."params"."lastRecord"."exd"."sat" AS INTEGER) END AS "sat",
    _s."params"."lastRecord"."exd"."alt" AS "alt",
    CASE WHEN _s."params"."lastRecord"."exd"."bpp" = trunc(_s."params"."lastRecord"."exd"."bpp") THEN TRY_CAST(_s."params"."lastRecord"."exd"."bpp" AS INTEGER) END AS "bpp",
    CASE WHEN _s."params"."lastRecord"."exd"."eco"."edt" = trunc(_s."params"."lastRecord"."exd"."eco"."edt") THEN TRY_CAST(_s."params"."lastRecord"."exd"."eco"."edt" AS INTEGER) END AS "edt",
    CASE WHEN _s."params"."lastRecord"."exd"."eco"."aat" = trunc(_s."params"."lastRecord"."exd"."eco"."aat") THEN TRY_CAST(_s."params"."lastRecord"."exd"."eco"."aat" AS INTEGER) END AS "aat",
    CASE WHEN _s."params"."lastRecord"."exd"."eco"."rpm" = trunc(_s."params"."lastRecord"."exd"."eco"."rpm") THEN TRY_CAST(_s."params"."lastRecord"."exd"."eco"."rpm" AS INTEGER) END AS "rpm",
    _s."params"."lastRecord"."exd"."eco"."flv" AS "flv",
    _s."params"."lastRecord"."exd"."eco"."ehr" AS "ehr",
    _s."params"."lastRecord"."exd"."eco"."dcl" AS "dcl",
    CASE WHEN json_type(_s."params"."lastRecord"."exd"."io") = 'OBJECT' THEN _s."params"."lastRecord"."exd"."io" END AS "io_map",
    CASE WHEN _s."params"."lastRecord"."exd"."tlm"."tio" = trunc(_s."params"."lastRecord"."exd"."tlm"."tio") THEN TRY_CAST(_s."params"."lastRecord"."exd"."tlm"."tio" AS INTEGER) END AS "tio",
    _s."params"."lastRecord"."exd"."tlm"."tlv" AS "tlv"
    FROM (SELECT *, json_transform(doc, '{"uid": "DOUBLE", "params": {"total": "DOUBLE", "lastRecord": {"vid": "DOUBLE", "tmx": "VARCHAR", "_id": "VARCHAR", "dmx": "DOUBLE", "loc": {"lat": "DOUBLE", "lon": "DOUBLE"}, "gsp": "DOUBLE", "hdg": "DOUBLE", "gkm": "DOUBLE", "cas": "DOUBLE", "exd": {"sat": "DOUBLE", "alt": "DOUBLE", "bpp": "DOUBLE", "eco": {"edt": "DOUBLE", "aat": "DOUBLE", "rpm": "DOUBLE", "flv": "DOUBLE", "ehr": "DOUBLE", "dcl": "VARCHAR"}, "io": "JSON", "tlm": {"tio": "DOUBLE", "tlv": "DOUBLE"}}}}}') AS _s FROM frames)
), listed AS (
    SELECT *, json_keys(doc, ['$', '$.params', '$.params.lastRecord', '$.params.lastRecord.loc', '$.params.lastRecord.exd', '$.params.lastRecord.exd.eco', '$.params.lastRecord.exd.tlm']) AS _keys FROM typed
), checked AS (
    SELECT *, coalesce(len(list_filter(coalesce(_keys[1], []), lambda k: NOT list_contains(['uid', 'params'], k))) > 0
        OR len(list_filter(coalesce(_keys[2], []), lambda k: NOT list_contains(['type', 'total', 'lastRecord'], k))) > 0
        OR len(list_filter(coalesce(_keys[3], []), lambda k: NOT list_contains(['tmx', 'vid', '_id', 'dmx', 'loc', 'gsp', 'hdg', 'gkm', 'cas', 'exd'], k))) > 0
        OR len(list_filter(coalesce(_keys[4], []), lambda k: NOT list_contains(['lat', 'lon'], k))) > 0
        OR len(list_filter(coalesce(_keys[5], []), lambda k: NOT list_contains(['sat', 'alt', 'bpp', 'eco', 'io', 'tlm'], k))) > 0
        OR len(list_filter(coalesce(_keys[6], []), lambda k: NOT list_contains(['edt', 'aat', 'rpm', 'ehr', 'flv', 'dcl'], k))) > 0
        OR len(list_filter(coalesce(_keys[7], []), lambda k: NOT list_contains(['tio', 'tlv'], k))) > 0
        OR CASE WHEN _keys[1] IS NOT NULL AND ("uid" IS NULL)
        THEN ("uid" IS NULL AND list_contains(_keys[1], 'uid')) ELSE false END
        OR CASE WHEN _keys[2] IS NOT NULL AND ("total" IS NULL)
        THEN ("total" IS NULL AND list_contains(_keys[2], 'total')) ELSE false END
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
        OR CASE WHEN "io_map" IS NULL OR regexp_full_match("io_map", '\{("\d{1,9}":-?\d{1,18}(\.\d{1,18})?(,"\d{1,9}":-?\d{1,18}(\.\d{1,18})?)*)?\}') THEN false ELSE coalesce(list_bool_or(list_transform(map_entries(TRY(json_transform("io_map", '"MAP(VARCHAR, VARCHAR)"'))), lambda e: coalesce(TRY_CAST(e.key AS INTEGER) IS NULL OR (e.value IS NOT NULL AND TRY_CAST(e.value AS DOUBLE) IS NULL), false))), false) END, true) AS _check FROM listed
), detailed AS (
    SELECT *,
    CASE WHEN _check THEN nullif(concat_ws('; ',
        CASE WHEN _v[1] IS NOT NULL AND "uid" IS NULL THEN 'uid: ' || '"' || left(_v[1], 60) || '"' || ' is not an integer' END,
        CASE WHEN _v[2] IS NOT NULL AND "total" IS NULL THEN 'params.total: ' || '"' || left(_v[2], 60) || '"' || ' is not an integer' END,
        CASE WHEN _v[3] IS NOT NULL AND "vid" IS NULL THEN 'params.lastRecord.vid: ' || '"' || left(_v[3], 60) || '"' || ' is not an integer' END,
        CASE WHEN _v[4] IS NOT NULL AND "tmx" IS NULL THEN 'params.lastRecord.tmx: ' || '"' || left(_v[4], 60) || '"' || ' is not a timestamp' END,
        CASE WHEN _v[6] IS NOT NULL AND "dmx" IS NULL THEN 'params.lastRecord.dmx: ' || '"' || left(_v[6], 60) || '"' || ' is not an integer' END,
        CASE WHEN _v[7] IS NOT NULL AND "lat" IS NULL THEN 'params.lastRecord.loc.lat: ' || '"' || left(_v[7], 60) || '"' || ' is not a number' END,
        CASE WHEN _v[8] IS NOT NULL AND "lon" IS NULL THEN 'params.lastRecord.loc.lon: ' || '"' || left(_v[8], 60) || '"' || ' is not a number' END,
        CASE WHEN _v[9] IS NOT NULL AND "gsp" IS NULL THEN 'params.lastRecord.gsp: ' || '"' || left(_v[9], 60) || '"' || ' is not a number' END,
        CASE WHEN _v[10] IS NOT NULL AND "hdg" IS NULL THEN 'params.lastRecord.hdg: ' || '"' || left(_v[10], 60) || '"' || ' is not a number' END,
        CASE WHEN _v[11] IS NOT NULL AND "gkm" IS NULL THEN 'params.lastRecord.gkm: ' || '"' || left(_v[11], 60) || '"' || ' is not an integer' END,
        CASE WHEN _v[12] IS NOT NULL AND "cas" IS NULL THEN 'params.lastRecord.cas: ' || '"' || left(_v[12], 60) || '"' || ' is not an integer' END,
        CASE WHEN _v[13] IS NOT NULL AND "sat" IS NULL THEN 'params.lastRecord.exd.sat: ' || '"' || left(_v[13], 60) || '"' || ' is not an integer' END,
        CASE WHEN _v[14] IS NOT NULL AND "alt" IS NULL THEN 'params.lastRecord.exd.alt: ' || '"' || left(_v[14], 60) || '"' || ' is not a number' END,
        CASE WHEN _v[15] IS NOT NULL AND "bpp" IS NULL THEN 'params.lastRecord.exd.bpp: ' || '"' || left(_v[15], 60) || '"' || ' is not an integer' END,
        CASE WHEN _v[16] IS NOT NULL AND "edt" IS NULL THEN 'params.lastRecord.exd.eco.edt: ' || '"' || left(_v[16], 60) || '"' || ' is not an integer' END,
        CASE WHEN _v[17] IS NOT NULL AND "aat" IS NULL THEN 'params.lastRecord.exd.eco.aat: ' || '"' || left(_v[17], 60) || '"' || ' is not an integer' END,
        CASE WHEN _v[18] IS NOT NULL AND "rpm" IS NULL THEN 'params.lastRecord.exd.eco.rpm: ' || '"' || left(_v[18], 60) || '"' || ' is not an integer' END,
        CASE WHEN _v[19] IS NOT NULL AND "flv" IS NULL THEN 'params.lastRecord.exd.eco.flv: ' || '"' || left(_v[19], 60) || '"' || ' is not a number' END,
        CASE WHEN _v[20] IS NOT NULL AND "ehr" IS NULL THEN 'params.lastRecord.exd.eco.ehr: ' || '"' || left(_v[20], 60) || '"' || ' is not a number' END,
        CASE WHEN _v[22] IS NOT NULL AND "io_map" IS NULL THEN 'params.lastRecord.exd.io: ' || '"' || left(_v[22], 60) || '"' || ' is not an object' END,
        CASE WHEN _v[23] IS NOT NULL AND "tio" IS NULL THEN 'params.lastRecord.exd.tlm.tio: ' || '"' || left(_v[23], 60) || '"' || ' is not an integer' END,
        CASE WHEN _v[24] IS NOT NULL AND "tlv" IS NULL THEN 'params.lastRecord.exd.tlm.tlv: ' || '"' || left(_v[24], 60) || '"' || ' is not a number' END,
        CASE WHEN CASE WHEN "io_map" IS NULL OR regexp_full_match("io_map", '\{("\d{1,9}":-?\d{1,18}(\.\d{1,18})?(,"\d{1,9}":-?\d{1,18}(\.\d{1,18})?)*)?\}') THEN false ELSE coalesce(list_bool_or(list_transform(map_entries(TRY(json_transform("io_map", '"MAP(VARCHAR, VARCHAR)"'))), lambda e: coalesce(TRY_CAST(e.key AS INTEGER) IS NULL OR (e.value IS NOT NULL AND TRY_CAST(e.value AS DOUBLE) IS NULL), false))), false) END THEN 'params.lastRecord.exd.io: an entry has a key or value of the wrong type' END), '') END AS _type_errors,
    CASE WHEN _check THEN nullif(TRY(to_json(map_from_entries(flatten([
        CASE WHEN len(list_filter(coalesce(_keys[1], []), lambda k: NOT list_contains(['uid', 'params'], k))) > 0 THEN coalesce(list_transform(list_filter(map_entries(TRY(json_transform(doc, '"MAP(VARCHAR, JSON)"'))), lambda e: NOT list_contains(['uid', 'params'], e.key)), lambda e: {'key': '' || e.key, 'value': e.value}), []) ELSE [] END,
        CASE WHEN len(list_filter(coalesce(_keys[2], []), lambda k: NOT list_contains(['type', 'total', 'lastRecord'], k))) > 0 THEN coalesce(list_transform(list_filter(map_entries(TRY(json_transform(json_extract(doc, '$.params'), '"MAP(VARCHAR, JSON)"'))), lambda e: NOT list_contains(['type', 'total', 'lastRecord'], e.key)), lambda e: {'key': 'params.' || e.key, 'value': e.value}), []) ELSE [] END,
        CASE WHEN len(list_filter(coalesce(_keys[3], []), lambda k: NOT list_contains(['tmx', 'vid', '_id', 'dmx', 'loc', 'gsp', 'hdg', 'gkm', 'cas', 'exd'], k))) > 0 THEN coalesce(list_transform(list_filter(map_entries(TRY(json_transform(json_extract(doc, '$.params.lastRecord'), '"MAP(VARCHAR, JSON)"'))), lambda e: NOT list_contains(['tmx', 'vid', '_id', 'dmx', 'loc', 'gsp', 'hdg', 'gkm', 'cas', 'exd'], e.key)), lambda e: {'key': 'params.lastRecord.' || e.key, 'value': e.value}), []) ELSE [] END,
        CASE WHEN len(list_filter(coalesce(_keys[4], []), lambda k: NOT list_contains(['lat', 'lon'], k))) > 0 THEN coalesce(list_transform(list_filter(map_entries(TRY(json_transform(json_extract(doc, '$.params.lastRecord.loc'), '"MAP(VARCHAR, JSON)"'))), lambda e: NOT list_contains(['lat', 'lon'], e.key)), lambda e: {'key': 'params.lastRecord.loc.' || e.key, 'value': e.value}), []) ELSE [] END,
        CASE WHEN len(list_filter(coalesce(_keys[5], []), lambda k: NOT list_contains(['sat', 'alt', 'bpp', 'eco', 'io', 'tlm'], k))) > 0 THEN coalesce(list_transform(list_filter(map_entries(TRY(json_transform(json_extract(doc, '$.params.lastRecord.exd'), '"MAP(VARCHAR, JSON)"'))), lambda e: NOT list_contains(['sat', 'alt', 'bpp', 'eco', 'io', 'tlm'], e.key)), lambda e: {'key': 'params.lastRecord.exd.' || e.key, 'value': e.value}), []) ELSE [] END,
        CASE WHEN len(list_filter(coalesce(_keys[6], []), lambda k: NOT list_contains(['edt', 'aat', 'rpm', 'ehr', 'flv', 'dcl'], k))) > 0 THEN coalesce(list_transform(list_filter(map_entries(TRY(json_transform(json_extract(doc, '$.params.lastRecord.exd.eco'), '"MAP(VARCHAR, JSON)"'))), lambda e: NOT list_contains(['edt', 'aat', 'rpm', 'ehr', 'flv', 'dcl'], e.key)), lambda e: {'key': 'params.lastRecord.exd.eco.' || e.key, 'value': e.value}), []) ELSE [] END,
        CASE WHEN len(list_filter(coalesce(_keys[7], []), lambda k: NOT list_contains(['tio', 'tlv'], k))) > 0 THEN coalesce(list_transform(list_filter(map_entries(TRY(json_transform(json_extract(doc, '$.params.lastRecord.exd.tlm'), '"MAP(VARCHAR, JSON)"'))), lambda e: NOT list_contains(['tio', 'tlv'], e.key)), lambda e: {'key': 'params.lastRecord.exd.tlm.' || e.key, 'value': e.value}), []) ELSE [] END])))::VARCHAR), '{}') END AS extra
    FROM (SELECT *, CASE WHEN _check THEN json_extract_string(doc, ['$.uid', '$.params.total', '$.params.lastRecord.vid', '$.params.lastRecord.tmx', '$.params.lastRecord._id', '$.params.lastRecord.dmx', '$.params.lastRecord.loc.lat', '$.params.lastRecord.loc.lon', '$.params.lastRecord.gsp', '$.params.lastRecord.hdg', '$.params.lastRecord.gkm', '$.params.lastRecord.cas', '$.params.lastRecord.exd.sat', '$.params.lastRecord.exd.alt', '$.params.lastRecord.exd.bpp', '$.params.lastRecord.exd.eco.edt', '$.params.lastRecord.exd.eco.aat', '$.params.lastRecord.exd.eco.rpm', '$.params.lastRecord.exd.eco.flv', '$.params.lastRecord.exd.eco.ehr', '$.params.lastRecord.exd.eco.dcl', '$.params.lastRecord.exd.io', '$.params.lastRecord.exd.tlm.tio', '$.params.lastRecord.exd.tlm.tlv']) END AS _v
          FROM checked)
)
SELECT _file, _row, _type_errors,
    {
        "uid": CAST(uid AS BIGINT),
        "vid": CAST(vid AS BIGINT),
        "tmx": CAST(tmx AS TIMESTAMPTZ),
        "received_at": CAST(received_at AS TIMESTAMPTZ),
        "batch_total": CAST(total AS INTEGER),
        "source": CAST('records' AS VARCHAR),
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
        "extra": CAST(extra AS VARCHAR),
        "seq": CAST(seq AS BIGINT)} AS "records",
    {
        "entries": "io_map",
        "vid": CAST(vid AS BIGINT),
        "tmx": CAST(tmx AS TIMESTAMPTZ),
        "uid": CAST(uid AS BIGINT),
        "received_at": CAST(received_at AS TIMESTAMPTZ),
        "seq": CAST(seq AS BIGINT)} AS "record_io"
FROM detailed

-- route records: child table record_io
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
    FROM (SELECT _file, _row, unnest("record_io") FROM "records rows") AS r,
        json_each(r."entries") AS j
    WHERE r."entries" IS NOT NULL
)
ORDER BY _file, _row, _entry
