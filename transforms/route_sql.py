"""Compile a route declaration (``transforms.routes``) into its DuckDB queries.

Each route has two kinds of query, generated from its declaration when first used
(``route_queries``) and printed by ``trackit transform --show-sql ROUTE``:

* the **rows query** reads the route's frames (relation ``"<route> frames"``: columns
  ``_file``, ``_row``, ``seq``, ``received_at``, ``connection_id``, ``doc``) and returns one
  row per frame. It types every field with one ``json_transform`` and lists the keys of
  every object the route knows with one ``json_keys``. ``_check`` is true when that
  listing shows something to look at: a key the route does not know, a typed field that
  is present but did not convert, a child map not of the usual shape. Only for those
  frames does the query compute what is costly: ``_type_errors`` (each field whose value
  has the wrong type, named with its value) and ``extra`` (every unknown key,
  ``path: value``); for the others both are NULL. The property test
  ``test_the_check_guard_changes_no_row`` runs the query with ``_check`` forced true for
  every frame and compares;
* one **child query** per child table (``record_io``, ``form_fields``, ``io_snapshots``):
  one row per entry of a JSON map, listed by ``json_each`` over the route's rows
  (relation ``"<route> rows"``).

A route's row holds, besides ``_file``, ``_row`` and ``_type_errors``, one STRUCT column
per table it feeds, named after the table, with that table's columns in order (NULL for a
frame that feeds no row there, see ``Route.only_with``), and one STRUCT per child table
with the map's JSON text (``entries``) and the child's columns taken from the frame.

Values are typed by one ``json_transform`` per frame into a STRUCT of the route's fields:
integers read as DOUBLE, so that a fraction is caught, not rounded; timestamps read as
text, then cast; a JSON map read as its JSON text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache

from schemas.core_tables import CORE_TABLES
from transforms.routes import ROUTES, Child, Field, Route

CHECK = "_check"
ENTRIES = "entries"  # the JSON text of a child's map, in the child's input STRUCT

_KIND = {
    "BIGINT": "an integer",
    "INTEGER": "an integer",
    "DOUBLE": "a number",
    "BOOLEAN": "a boolean",
    "TIMESTAMPTZ": "a timestamp",
    "MAP": "an object",
}
_INTEGER_TYPES = ("BIGINT", "INTEGER")
# How json_transform reads each declared type.
_READ_AS = {
    "BIGINT": "DOUBLE",
    "INTEGER": "DOUBLE",
    "DOUBLE": "DOUBLE",
    "BOOLEAN": "BOOLEAN",
    "VARCHAR": "VARCHAR",
    "TIMESTAMPTZ": "VARCHAR",
    "MAP": "JSON",
}
_SEP = ",\n    "


def sql_string(text: str) -> str:
    """``text`` as a SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def sql_list(items: list[str] | tuple[str, ...]) -> str:
    return "[" + ", ".join(sql_string(i) for i in items) + "]"


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _label(path: str) -> str:
    """A JSONPath as shown to people: ``$.params.lastRecord.gsp`` → ``params.lastRecord.gsp``."""
    return path.removeprefix("$").removeprefix(".")


def text_value(json_text: str) -> str:
    """SQL: the value of a JSON text as ``json_extract_string`` gives it.

    A string without escapes is its text between the quotes (it cannot hold a quote, so
    trimming quotes is exact); a string with escapes is decoded by DuckDB; any other value
    is its JSON text; ``null`` is NULL.
    """
    x = json_text
    return (f"CASE WHEN {x} = 'null' THEN NULL WHEN NOT starts_with({x}, '\"') THEN {x} "
            f"WHEN contains({x}, '\\') THEN json_extract_string({x}, '$') "
            f"ELSE trim({x}, '\"') END")


# --- typing every field: one json_transform per frame -------------------------------


def _structure(route: Route) -> str:
    """The json_transform structure of the route's fields (nested like the frame)."""
    tree: dict = {}
    for f in route.fields.values():
        *parents, last = _label(f.path).split(".")
        node = tree
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = _READ_AS[f.type]
    return json.dumps(tree)


def _typed(alias: str, f: Field) -> str:
    """SQL: the field ``alias`` typed, from the json_transform STRUCT ``_s``."""
    read = "_s" + "".join(f".{ident(k)}" for k in _label(f.path).split("."))
    if f.type in _INTEGER_TYPES:
        value = f"CASE WHEN {read} = trunc({read}) THEN TRY_CAST({read} AS {f.type}) END"
    elif f.type == "TIMESTAMPTZ":
        value = f"TRY_CAST({read} AS TIMESTAMPTZ)"
    elif f.type == "MAP":
        value = f"CASE WHEN json_type({read}) = 'OBJECT' THEN {read} END"
    else:
        value = read
    return f"{value} AS {ident(alias)}"


def frames_relation(route: Route) -> str:
    """The name of the relation holding the route's frames (``"records frames"``)."""
    return f"{route.name} frames"


def rows_relation(route: Route) -> str:
    """The name of the relation the child queries read: the route's rows."""
    return f"{route.name} rows"


def _typed_and_listed(route: Route) -> str:
    """The first CTEs: every field typed (``typed``), and the key listing of every known
    object (``listed``: ``_keys[i]`` lists the keys of the i-th object of ``route.known``,
    NULL when the frame has no such object)."""
    typed = _SEP.join(_typed(a, f) for a, f in route.fields.items())
    keys = f"json_keys(doc, {sql_list(list(route.known))})" if route.known else "NULL"
    return f"""WITH frames AS (
    SELECT _file, _row, seq, received_at, connection_id, doc
    FROM {ident(frames_relation(route))}
), typed AS (
    SELECT * EXCLUDE (_s),
    {typed}
    FROM (SELECT *, json_transform(doc, {sql_string(_structure(route))}) AS _s FROM frames)
), listed AS (
    SELECT *, {keys} AS _keys FROM typed
)"""


# --- what only the checked frames compute ---------------------------------------------


def _has_unknown(i: int, keys: tuple[str, ...]) -> str:
    """SQL: true when the i-th known object lists a key outside ``keys``."""
    return (f"len(list_filter(coalesce(_keys[{i}], []), "
            f"lambda k: NOT list_contains({sql_list(keys)}, k))) > 0")


def _unknown_keys(route: Route) -> str:
    """SQL: true when a known object lists a key its route does not know."""
    if not route.known:
        return "false"
    return "\n        OR ".join(
        _has_unknown(i, keys) for i, keys in enumerate(route.known.values(), start=1))


def _child_invalid(child: Child) -> str:
    """SQL: true when an entry of the child's map has a key or value of the wrong type.

    ``child.valid_text`` is a shortcut (a regular expression only maps without a wrong
    entry match); the entries are listed only for a map that does not match it.
    """
    text = ident(child.source)
    entries = f"map_entries(TRY(json_transform({text}, '\"MAP(VARCHAR, VARCHAR)\"')))"
    exact = (f"coalesce(list_bool_or(list_transform({entries}, "
             f"lambda e: coalesce({child.invalid}, false))), false)")
    if child.valid_text is None:
        return f"CASE WHEN {text} IS NULL THEN false ELSE {exact} END"
    return (f"CASE WHEN {text} IS NULL OR regexp_full_match({text}, "
            f"{sql_string(child.valid_text)}) THEN false ELSE {exact} END")


def _check(route: Route) -> str:
    """SQL: true when the key listing shows the frame needs the costly part of the query.

    Something unknown, or a typed field that the listing shows present but that did not
    convert (a JSON null or a value of the wrong type; only the costly part tells which),
    or a child map not of the usual shape. A text field converts from any value but null,
    and a null there (the manual's ``"hid": null``) needs nothing more. A route without
    known objects (the outbound commands) checks every frame.
    """
    if not route.known:
        return "true"
    levels = list(route.known)
    conditions = [_unknown_keys(route)]
    typed: dict[str, dict[str, str]] = {}  # known object -> {key: alias} of its typed fields
    for alias, f in route.fields.items():
        if f.type == "VARCHAR":
            continue
        parent, _, key = f.path.rpartition(".")
        if parent not in levels:
            raise ValueError(f"route {route.name}: field {f.path} is not under a known object")
        typed.setdefault(parent, {})[key] = alias
    for parent, keys in typed.items():
        slot = f"_keys[{levels.index(parent) + 1}]"
        # The listing is searched only for an object present with a NULL typed field;
        # CASE evaluates a branch only for the rows that reach it.
        some_null = " OR ".join(f"{ident(a)} IS NULL" for a in keys.values())
        unconverted_listed = " OR ".join(
            f"({ident(a)} IS NULL AND list_contains({slot}, {sql_string(k)}))"
            for k, a in keys.items())
        conditions.append(f"CASE WHEN {slot} IS NOT NULL AND ({some_null})\n"
                          f"        THEN {unconverted_listed} ELSE false END")
    conditions += [_child_invalid(c) for c in route.children.values()]
    return "coalesce(" + "\n        OR ".join(conditions) + ", true)"


def _type_errors(route: Route) -> str:
    """SQL: NULL, or the fields whose value (text ``_v[i]``) does not have its type."""
    errors = []
    for i, (alias, f) in enumerate(route.fields.items(), start=1):
        if f.type == "VARCHAR":
            continue
        slot = f"_v[{i}]"
        errors.append(
            f"CASE WHEN {slot} IS NOT NULL AND {ident(alias)} IS NULL THEN "
            f"{sql_string(_label(f.path) + ': ')} || '\"' || left({slot}, 60) || '\"' || "
            f"{sql_string(' is not ' + _KIND[f.type])} END")
    for child in route.children.values():
        path = _label(route.fields[child.source].path)
        errors.append(f"CASE WHEN {_child_invalid(child)} THEN "
                      f"{sql_string(path + ': an entry has a key or value of the wrong type')}"
                      " END")
    if not errors:
        return "NULL"
    return "nullif(concat_ws('; ',\n        " + ",\n        ".join(errors) + "), '')"


def _extra(route: Route) -> str:
    """SQL: the unknown keys of every known object, as one JSON object ``path: value``."""
    if not route.known:
        return "NULL"
    parts = []
    for i, (path, keys) in enumerate(route.known.items(), start=1):
        prefix = _label(path) + "." if _label(path) else ""
        obj = "doc" if path == "$" else f"json_extract(doc, {sql_string(path)})"
        # only the objects that list an unknown key are read as a map (the costly part)
        parts.append(
            f"CASE WHEN {_has_unknown(i, keys)} THEN "
            f"coalesce(list_transform(list_filter(map_entries(TRY(json_transform({obj}, "
            f"'\"MAP(VARCHAR, JSON)\"'))), lambda e: NOT list_contains({sql_list(keys)}, "
            f"e.key)), lambda e: {{'key': {sql_string(prefix)} || e.key, 'value': e.value}}),"
            " []) ELSE [] END")
    return ("nullif(TRY(to_json(map_from_entries(flatten([\n        "
            + ",\n        ".join(parts) + "])))::VARCHAR), '{}')")


# --- the rows: one STRUCT per table --------------------------------------------------


def _cast(table: str, column: str, expr: str) -> str:
    return f"CAST({expr} AS {CORE_TABLES[table].column(column).type})"


def _table_struct(route: Route, table: str, exprs: dict[str, str]) -> str:
    unknown = set(exprs) - set(CORE_TABLES[table].column_names)
    if unknown:
        raise ValueError(f"route {route.name} maps unknown columns of {table}: {sorted(unknown)}")
    fields = ",\n        ".join(
        f"{ident(c.name)}: {_cast(table, c.name, exprs.get(c.name, 'NULL'))}"
        for c in CORE_TABLES[table].columns)
    struct = f"{{\n        {fields}}}"
    if table in route.only_with:
        index = list(route.known).index(route.only_with[table]) + 1
        struct = f"CASE WHEN _keys[{index}] IS NOT NULL THEN {struct} END"
    return f"{struct} AS {ident(table)}"


def _child_struct(name: str, child: Child) -> str:
    fields = [f"{ident(ENTRIES)}: {ident(child.source)}"]
    fields += [f"{ident(col)}: {_cast(name, col, expr)}" for col, expr in child.parent.items()]
    return "{\n        " + ",\n        ".join(fields) + f"}} AS {ident(name)}"


def _rows(route: Route) -> str:
    outputs = [_table_struct(route, t, exprs) for t, exprs in route.tables.items()]
    outputs += [_child_struct(n, c) for n, c in route.children.items()]
    return _SEP.join(outputs)


def rows_query(route: Route, *, check_every_frame: bool = False) -> str:
    """The rows query of ``route`` (see the module's docstring).

    ``check_every_frame`` computes ``_type_errors`` and ``extra`` for every frame, not only
    those ``_check`` picks: the rows must be the same (the tests compare both).
    """
    check = "true" if check_every_frame else _check(route)
    paths = sql_list([f.path for f in route.fields.values()])
    return f"""{_typed_and_listed(route)}, checked AS (
    SELECT *, {check} AS {CHECK} FROM listed
), detailed AS (
    SELECT *,
    CASE WHEN {CHECK} THEN {_type_errors(route)} END AS _type_errors,
    CASE WHEN {CHECK} THEN {_extra(route)} END AS extra
    FROM (SELECT *, CASE WHEN {CHECK} THEN json_extract_string(doc, {paths}) END AS _v
          FROM checked)
)
SELECT _file, _row, _type_errors,
    {_rows(route)}
FROM detailed
"""


def check_query(route: Route) -> str:
    """``_file``, ``_row`` and ``_check`` of each of the route's frames (for tests)."""
    return f"""{_typed_and_listed(route)}
SELECT _file, _row, {_check(route)} AS {CHECK} FROM listed
"""


def child_query(route: Route, name: str) -> str:
    """The query of the child table ``name`` over the route's rows: one row per entry of
    each frame's map, in frame order then entry order."""
    child = route.children[name]
    columns = []
    for col in CORE_TABLES[name].columns:
        if col.name in child.parent:
            columns.append(ident(col.name))
        else:
            expr = child.columns.get(col.name, "NULL")
            columns.append(f"{_cast(name, col.name, expr)} AS {ident(col.name)}")
    # the STRUCT is unnested first: json_each over a field of a STRUCT column runs
    # about ten times slower than over a plain column
    return f"""SELECT _file, _row,
    {_SEP.join(columns)}
FROM (
    SELECT r.*, {{'key': j.key, 'value': {text_value('j.value::VARCHAR')}}} AS e, j.id AS _entry
    FROM (SELECT _file, _row, unnest({ident(name)}) FROM {ident(rows_relation(route))}) AS r,
        json_each(r.{ident(ENTRIES)}) AS j
    WHERE r.{ident(ENTRIES)} IS NOT NULL
)
ORDER BY _file, _row, _entry
"""


@dataclass(frozen=True)
class RouteQueries:
    """The SQL of one route: its rows query and its child queries."""

    route: Route
    rows: str
    children: dict[str, str]

    def text(self) -> str:
        """Every query, with a heading comment (what ``--show-sql`` prints)."""
        parts = [f"-- route {self.route.name}: rows query\n{self.rows}"]
        parts += [f"-- route {self.route.name}: child table {name}\n{sql}"
                  for name, sql in self.children.items()]
        return "\n".join(parts)


def golden_name(route: str) -> str:
    """The file name (without ``.sql``) under which a route's SQL is pinned in the tests
    (``event:io`` → ``event_io``)."""
    return route.replace(":", "_")


@cache
def route_queries(name: str) -> RouteQueries:
    """The queries of the route ``name``, compiled on first use."""
    route = ROUTES[name]
    return RouteQueries(
        route=route,
        rows=rows_query(route),
        children={child: child_query(route, child) for child in route.children},
    )
