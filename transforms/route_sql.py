"""Turn a route declaration (``transforms.routes``) into one DuckDB query.

The query reads the route's frames from the batch relation (columns ``_file``, ``_row``,
``seq``, ``received_at``, ``doc``, ``route``) and returns one row per frame with:

* ``_file``, ``_row``: lineage inside the batch;
* ``_type_errors``: NULL, or a readable list of the fields whose value has the wrong type
  (validation turns it into a quarantine reason);
* ``"<table>.<column>"`` for every column of every table the route feeds;
* ``"<child table>.__map"`` (the JSON text of the child's map, NULL unless an object)
  and ``"<child table>.<column>"`` for the child's columns taken from the frame: the
  caller runs ``child_query`` over the result (``json_each`` lists the entries, several
  times faster than building a MAP for every frame).

Fast path, for every frame: one ``json_transform`` into a typed STRUCT of the route's
fields (integers read as DOUBLE so a fraction is caught, not rounded; timestamps as text,
then cast) and one ``json_keys`` of each known object. When every known object has exactly
as many keys as known keys present with a value of the right type, the frame has no
unknown field, no JSON null and no type error: nothing else is computed for it.

Slow path, only for the other frames: ``json_extract_string`` of every field as text, to
name each field whose value has the wrong type, and the exact key-by-key comparison that
builds ``extra``.
"""

from __future__ import annotations

import json
import re

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
# How json_transform reads each declared type.
_READ_AS = {
    "BIGINT": "DOUBLE",
    "INTEGER": "DOUBLE",
    "DOUBLE": "DOUBLE",
    "BOOLEAN": "BOOLEAN",
    "VARCHAR": "VARCHAR",
    "TIMESTAMPTZ": "VARCHAR",
    # A JSON map is kept as its JSON text: its entries are listed by json_each in the
    # query of the child table (building a MAP per frame here costs more than reading
    # every other field).
    "MAP": "JSON",
}
WHEN = "__when"
MAP_TEXT = "__map"


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


def _all_fields(route: Route) -> dict[str, Field]:
    """The route's fields plus, as text, every known key that is neither a field nor a
    known object (so that its presence can be counted)."""
    fields = dict(route.fields)
    taken = {f.path for f in fields.values()} | set(route.known)
    for path, keys in route.known.items():
        for key in keys:
            child = f"{path}.{key}"
            if child not in taken:
                fields[f"__key:{child}"] = Field(child, "VARCHAR")
                taken.add(child)
    return fields


def _structure(fields: dict[str, Field]) -> tuple[str, dict[str, str]]:
    """The json_transform structure of ``fields`` and the SQL accessor of each alias."""
    tree: dict = {}
    access: dict[str, str] = {}
    for alias, f in fields.items():
        keys = _label(f.path).split(".")
        node = tree
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = _READ_AS[f.type]
        access[alias] = "_s" + "".join(f".{_ident(k)}" for k in keys)
    return json.dumps(tree), access


def _typed(alias: str, f: Field, read: str) -> str:
    name = _ident(alias)
    if f.type in _INTEGER_TYPES:
        return f"CASE WHEN {read} = trunc({read}) THEN TRY_CAST({read} AS {f.type}) END AS {name}"
    if f.type == "TIMESTAMPTZ":
        return f"TRY_CAST({read} AS TIMESTAMPTZ) AS {name}"
    if f.type == "MAP":
        return f"CASE WHEN json_type({read}) = 'OBJECT' THEN {read} END AS {name}"
    return f"{read} AS {name}"


def _type_error(alias: str, f: Field, slot: str) -> str | None:
    """SQL: NULL, or why this field's text value (``slot``) does not have its type."""
    if f.type == "VARCHAR":
        return None
    shown = f"'\"' || left({slot}, 60) || '\"'"
    label = sql_string(_label(f.path) + ": ")
    what = "an object" if f.type == "MAP" else _KIND[f.type]
    return (f"CASE WHEN {slot} IS NOT NULL AND {_ident(alias)} IS NULL THEN "
            f"{label} || {shown} || {sql_string(' is not ' + what)} END")


def _child_invalid(child: Child) -> str:
    """SQL: true when an entry of the child's map has a key or value of the wrong type."""
    text = _ident(child.source)
    entries = f"map_entries(TRY(json_transform({text}, '\"MAP(VARCHAR, VARCHAR)\"')))"
    exact = (f"coalesce(list_bool_or(list_transform({entries}, "
             f"lambda e: coalesce({child.invalid}, false))), false)")
    if child.valid_text is None:
        return f"CASE WHEN {text} IS NULL THEN false ELSE {exact} END"
    return (f"CASE WHEN {text} IS NULL OR regexp_full_match({text}, "
            f"{sql_string(child.valid_text)}) THEN false ELSE {exact} END")


def _child_error(child: Child, route: Route) -> str:
    path = _label(route.fields[child.source].path)
    return (f"CASE WHEN {_child_invalid(child)} THEN "
            f"{sql_string(path + ': an entry has a key or value of the wrong type')} END")


def _presence(route: Route, fields: dict[str, Field], path: str,
              keys: tuple[str, ...]) -> str:
    """How many known keys of the object at ``path`` hold a value of the right type."""
    levels = list(route.known)
    by_path = {f.path: a for a, f in fields.items()}
    terms = []
    for key in keys:
        child = f"{path}.{key}"
        if child in levels:
            terms.append(f"(_k[{levels.index(child) + 1}] IS NOT NULL)::INTEGER")
        else:
            terms.append(f"({_ident(by_path[child])} IS NOT NULL)::INTEGER")
    return " + ".join(terms) if terms else "0"


def _fast(route: Route, fields: dict[str, Field]) -> str:
    """SQL: true when the frame needs no slow path (see the module docstring)."""
    if not route.known:
        return "false"  # no key list to count against (outbound commands: rare)
    conditions = [
        f"coalesce(len(_k[{i}]), 0) = {_presence(route, fields, path, keys)}"
        for i, (path, keys) in enumerate(route.known.items(), start=1)
    ]
    conditions += [f"NOT {_child_invalid(c)}" for c in route.children.values()]
    return " AND ".join(conditions)


def _extra(route: Route) -> str:
    """Unknown keys of every known object, as one JSON object of ``path: value``."""
    if not route.known:
        return "NULL"
    parts = []
    for path, keys in route.known.items():
        known = sql_list(keys)
        prefix = _label(path)
        prefix = prefix + "." if prefix else ""
        obj = "doc" if path == "$" else f"json_extract(doc, {sql_string(path)})"
        parts.append(
            f"coalesce(list_transform(list_filter(map_entries(TRY(json_transform({obj}, "
            f"'\"MAP(VARCHAR, JSON)\"'))), lambda e: NOT list_contains({known}, e.key)), "
            f"lambda e: {{'key': {sql_string(prefix)} || e.key, 'value': e.value}}), [])"
        )
    exact = " OR ".join(
        f"len(list_filter(coalesce(_k[{i}], []), lambda x: NOT list_contains("
        f"{sql_list(keys)}, x))) > 0"
        for i, keys in enumerate(route.known.values(), start=1)
    )
    built = f"TRY(to_json(map_from_entries(flatten([{', '.join(parts)}])))::VARCHAR)"
    return f"CASE WHEN {exact} THEN nullif({built}, '{{}}') END"


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


def _child_inputs(name: str, child: Child) -> list[str]:
    """Columns of the route's rows that the child's query needs: its map's JSON text and
    its columns taken from the parent frame."""
    out = [f"{_ident(child.source)} AS {_ident(name + '.' + MAP_TEXT)}"]
    out += [f"{_column(name, col, expr)} AS {_ident(name + '.' + col)}"
            for col, expr in child.parent.items()]
    return out


def child_query(route: Route, name: str, rows: str) -> str:
    """The query of the child table ``name`` over ``rows`` (the route's materialized rows):
    one row per entry of each frame's map, in frame order then entry order."""
    child = route.children[name]
    columns = []
    for col in CORE_TABLES[name].columns:
        if col.name in child.parent:
            columns.append(f"{_ident(name + '.' + col.name)} AS {_ident(col.name)}")
        else:
            expr = child.columns.get(col.name, "NULL")
            columns.append(f"{_column(name, col.name, expr)} AS {_ident(col.name)}")
    text = _ident(name + "." + MAP_TEXT)
    return f"""
SELECT _file, _row, {', '.join(columns)}
FROM (
    SELECT r.*, {{'key': j.key, 'value': {text_value('j.value::VARCHAR')}}} AS e, j.id AS _entry
    FROM {rows} AS r, json_each(r.{text}) AS j
    WHERE r.{text} IS NOT NULL
)
ORDER BY _file, _row, _entry
"""


def _present(route: Route, condition: str) -> str:
    """Replace ``present(<known object path>)`` by a test on that object's keys."""
    levels = list(route.known)
    return re.sub(r"present\(([^)]+)\)",
                  lambda m: f"(_k[{levels.index(m.group(1)) + 1}] IS NOT NULL)", condition)


def route_query(route: Route, relation: str = "batch") -> str:
    """The DuckDB query that turns the frames of ``route`` into rows of its tables."""
    fields = _all_fields(route)
    structure, access = _structure(fields)
    typed = [_typed(a, f, access[a]) for a, f in fields.items()]
    slots = {a: f"_v[{i}]" for i, a in enumerate(route.fields, start=1)}
    errors = [e for a, f in route.fields.items() if (e := _type_error(a, f, slots[a]))]
    errors += [_child_error(c, route) for c in route.children.values()]
    type_errors = (f"nullif(concat_ws('; ', {', '.join(errors)}), '')" if errors else "NULL")
    paths = sql_list([f.path for f in route.fields.values()])
    keys = f"json_keys(doc, {sql_list(list(route.known))})" if route.known else "NULL"
    outputs = [c for t, exprs in route.tables.items() for c in _table_columns(t, exprs)]
    outputs += [f"({_present(route, cond)}) AS {_ident(t + '.' + WHEN)}"
                for t, cond in route.when.items()]
    outputs += [c for n, child in route.children.items() for c in _child_inputs(n, child)]
    return f"""
WITH src AS (
    SELECT _file, _row, seq, received_at, doc FROM {relation}
    WHERE route = {sql_string(route.name)}
), ext AS (
    SELECT *, json_transform(doc, {sql_string(structure)}) AS _s, {keys} AS _k FROM src
), typed AS (
    SELECT * EXCLUDE (_s), {', '.join(typed)} FROM ext
), fast AS (
    SELECT *, {_fast(route, fields)} AS _fast FROM typed
), slow AS (
    SELECT *, CASE WHEN NOT _fast THEN json_extract_string(doc, {paths}) END AS _v FROM fast
), checked AS (
    SELECT *,
        CASE WHEN NOT _fast THEN {type_errors} END AS _type_errors,
        CASE WHEN NOT _fast THEN {_extra(route)} END AS extra
    FROM slow
)
SELECT _file, _row, _type_errors, {', '.join(outputs)}
FROM checked
"""
