"""marts.form_submissions: one row per form a driver sent, its fields as one JSON object."""

from __future__ import annotations

from marts.model import Mart, MartColumn, Scope, read_sql

MART = Mart(
    name="form_submissions",
    grain="form sent by a driver (core.forms)",
    columns=(
        MartColumn("form_id", "varchar", False, "core.forms.form_id", unique=True),
        MartColumn("uid", "bigint", False),
        MartColumn("vid", "bigint", description="the vehicle of the unit's latest record at "
                   "most max_gap_s before the form"),
        MartColumn("driver_card", "varchar", description="the driver card of that record"),
        MartColumn("form_name", "varchar"),
        MartColumn("tmx", "timestamptz", False, "device time of the form"),
        MartColumn("lat", "double", ge=-90, le=90),
        MartColumn("lon", "double", ge=-180, le=180),
        MartColumn("place", "varchar", description="the smallest named place holding the "
                   "position (core.places), NULL when none"),
        MartColumn("fields", "varchar", False, "JSON object: field name → value as text"),
    ),
    sql=read_sql(__file__),
    sorted_by="tmx",
    scope=Scope(
        delete="""
            delete from marts.form_submissions
            where form_id in (select form_id from ({sql}))
        """,
        touched_since="select min(tmx) from ({sql})",
        touched_rows="tmx >= $since",
    ),
    reads=("core.forms", "core.form_fields", "core.records", "core.places",
           "core.place_imports"),
)
