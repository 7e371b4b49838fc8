"""Turn a route declaration (``transforms.routes``) into one DuckDB query.

The query reads the route's frames from the batch relation (columns ``_file``, ``_row``,
``seq``, ``received_at``, ``doc``, ``route``), parses each frame once for all its fields
(``json_extract_string(doc, [paths])``) and once for its keys (``json_keys``), converts each
field to its declared type, and returns one row per frame with:

* ``_file``, ``_row``: lineage inside the batch;
* ``_type_errors``: NULL, or a readable list of the fields whose value has the wrong type
  (validation turns it into a quarantine reason);
* ``"<table>.<column>"`` for every column of every table the route feeds;
* ``"<child table>"``: a list of structs, one per entry of the child's JSON map.
"""

from __future__ import annotations

from schemas.core_tables import CORE_TABLES
from transforms.routes import Child, Field, Route

_KIND = {
    "BIGINT": "an integer",
    "INTEGER": "an integer",
    "DOUBLE": "a number",
    "BOOLEAN": "a boolean",
    "TIMESTAMPTZ": "a timestamp",
}
_INTEGER_TYPES = ("BIGINT", "INTEGER")
WHEN = "__when"


def sql_string(text: str) -> str:
    """``text`` as a SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def sql_list(items: list[str] | tuple[str, ...]) -> str:
    return "[" + ", ".join(sql_string(i) for i in items) + "]"


def _label(path: str) -> str:
    """A JSONPath as shown to people: ``$.params.lastRecord.gsp`` → ``params.lastRecord.gsp``."""
    return path.removeprefix("$").removeprefix(".")


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _typed(alias: str, f: Field, slot: str) -> str:
    if f.type in ("VARCHAR", "MAP"):
        return f"{slot} AS {_ident(alias)}"
    return f"TRY_CAST({slot} AS {f.type}) AS {_ident(alias)}"


def _entries(alias: str) -> str:
    return _ident(alias + "__entries")


def _type_error(alias: str, f: Field, slot: str) -> str | None:
    """A SQL expression: NULL, or why this field's value does not have its type."""
    shown = f"'\"' || left({slot}, 60) || '\"'"
    if f.type == "VARCHAR":
        return None
    if f.type == "MAP":
        return (f"CASE WHEN {slot} IS NOT NULL AND {_entries(alias)} IS NULL THEN "
                f"{sql_string(_label(f.path) + ': ')} || {shown} || ' is not an object' END")
    bad = f"{_ident(alias)} IS NULL"
    if f.type in _INTEGER_TYPES:
        # TRY_CAST rounds '41.5' to 42; an integer field must not silently lose a fraction.
        bad = f"({bad} OR {_ident(alias)} <> TRY_CAST({slot} AS DOUBLE))"
    return (f"CASE WHEN {slot} IS NOT NULL AND {bad} THEN "
            f"{sql_string(_label(f.path) + ': ')} || {shown} || "
            f"{sql_string(' is not ' + _KIND[f.type])} END")


def _child_error(name: str, child: Child, route: Route) -> str:
    path = _label(route.fields[child.source].path)
    return (f"CASE WHEN list_bool_or(list_transform({_entries(child.source)}, "
            f"lambda e: coalesce({child.invalid}, false))) THEN "
            f"{sql_string(path + ': an entry has a key or value of the wrong type')} END")


def _extra(route: Route) -> str:
    """Unknown keys of every known object, as one JSON object of ``path: value`` (or NULL)."""
    if not route.known:
        return "NULL"
    unknown_any = []
    parts = []
    for i, (path, keys) in enumerate(route.known.items(), start=1):
        known = sql_list(keys)
        unknown_any.append(f"NOT list_has_all({known}, coalesce(_k[{i}], []))")
        prefix = _label(path)
        prefix = prefix + "." if prefix else ""
        obj = "doc" if path == "$" else f"json_extract(doc, {sql_string(path)})"
        parts.append(
            f"coalesce(list_transform(list_filter(map_entries(TRY(json_transform({obj}, "
            f"'\"MAP(VARCHAR, JSON)\"'))), lambda e: NOT list_contains({known}, e.key)), "
            f"lambda e: {{'key': {sql_string(prefix)} || e.key, 'value': e.value}}), [])"
        )
    return (f"CASE WHEN {' OR '.join(unknown_any)} THEN "
            f"TRY(to_json(map_from_entries(flatten([{', '.join(parts)}])))::VARCHAR) END")


def _column(table: str, column: str, expr: str) -> str:
    type_ = CORE_TABLES[table].column(column).type
    return f"CAST({expr} AS {type_})"


def _table_columns(table: str, exprs: dict[str, str]) -> list[str]:
    out = []
    for col in CORE_TABLES[table].columns:
        expr = exprs.get(col.name, "NULL")
        out.append(f"{_column(table, col.name, expr)} AS {_ident(table + '.' + col.name)}")
    unknown = set(exprs) - set(CORE_TABLES[table].column_names)
    if unknown:
        raise ValueError(f"route maps unknown columns of {table}: {sorted(unknown)}")
    return out


def _child_column(name: str, child: Child) -> str:
    exprs = {**child.parent, **child.columns}
    fields = ", ".join(
        f"{_ident(c.name)} := {_column(name, c.name, exprs.get(c.name, 'NULL'))}"
        for c in CORE_TABLES[name].columns
    )
    return (f"list_transform(coalesce({_entries(child.source)}, []), "
            f"lambda e: struct_pack({fields})) AS {_ident(name)}")


def route_query(route: Route, relation: str = "batch") -> str:
    """The DuckDB query that turns the frames of ``route`` into rows of its tables."""
    aliases = list(route.fields)
    paths = [route.fields[a].path for a in aliases]
    slots = {a: f"_v[{i}]" for i, a in enumerate(aliases, start=1)}
    typed = [_typed(a, route.fields[a], slots[a]) for a in aliases]
    typed += [
        f"map_entries(TRY(json_transform({slots[a]}, '\"MAP(VARCHAR, VARCHAR)\"'))) "
        f"AS {_entries(a)}"
        for a in aliases if route.fields[a].type == "MAP"
    ]
    errors = [e for a in aliases if (e := _type_error(a, route.fields[a], slots[a]))]
    errors += [_child_error(n, c, route) for n, c in route.children.items()]
    keys = f"json_keys(doc, {sql_list(list(route.known))})" if route.known else "NULL"
    outputs = [c for t, exprs in route.tables.items() for c in _table_columns(t, exprs)]
    outputs += [f"({cond}) AS {_ident(t + '.' + WHEN)}" for t, cond in route.when.items()]
    outputs += [_child_column(n, c) for n, c in route.children.items()]
    type_errors = f"nullif(concat_ws('; ', {', '.join(errors)}), '')" if errors else "NULL"
    return f"""
WITH src AS (
    SELECT _file, _row, seq, received_at, doc FROM {relation}
    WHERE route = {sql_string(route.name)}
), ext AS (
    SELECT *, json_extract_string(doc, {sql_list(paths)}) AS _v, {keys} AS _k FROM src
), typed AS (
    SELECT *, {', '.join(typed)} FROM ext
), checked AS (
    SELECT *, {type_errors} AS _type_errors, {_extra(route)} AS extra FROM typed
)
SELECT _file, _row, _type_errors, {', '.join(outputs)}
FROM checked
"""
