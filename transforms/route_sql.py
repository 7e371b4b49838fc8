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


def _type_error(alias: str, f: Field, slot: str) -> tuple[str, str] | None:
    """(condition, message): when this field's value does not have its type, and why."""
    shown = f"'\"' || left({slot}, 60) || '\"'"
    if f.type == "VARCHAR":
        return None
    label = sql_string(_label(f.path) + ": ")
    if f.type == "MAP":
        return (f"({slot} IS NOT NULL AND {_entries(alias)} IS NULL)",
                f"{label} || {shown} || ' is not an object'")
    bad = f"{_ident(alias)} IS NULL"
    if f.type in _INTEGER_TYPES:
        # TRY_CAST rounds '41.5' to 42: an integer field written with a fraction is an
        # error, never silently rounded.
        bad = f"({bad} OR contains({slot}, '.'))"
    return (f"({slot} IS NOT NULL AND {bad})",
            f"{label} || {shown} || {sql_string(' is not ' + _KIND[f.type])}")


def _child_error(child: Child, route: Route) -> tuple[str, str]:
    path = _label(route.fields[child.source].path)
    return (f"coalesce(list_bool_or(list_transform({_entries(child.source)}, "
            f"lambda e: coalesce({child.invalid}, false))), false)",
            sql_string(path + ": an entry has a key or value of the wrong type"))


def _type_errors(checks: list[tuple[str, str]]) -> str:
    """NULL, or the messages of all failed checks (built only for rows with an error)."""
    if not checks:
        return "NULL"
    messages = ", ".join(f"CASE WHEN {cond} THEN {msg} END" for cond, msg in checks)
    return (f"CASE WHEN {' OR '.join(cond for cond, _ in checks)} "
            f"THEN concat_ws('; ', {messages}) END")


def _presence(route: Route, slots: dict[str, str], level: int, path: str,
              keys: tuple[str, ...]) -> str:
    """How many known keys of the object at ``path`` are present (JSON nulls not counted)."""
    levels = list(route.known)
    by_path = {f.path: a for a, f in route.fields.items()}
    terms = []
    for key in keys:
        child = f"{path}.{key}"
        if child in levels:
            terms.append(f"(_k[{levels.index(child) + 1}] IS NOT NULL)::INTEGER")
        elif child in by_path:
            terms.append(f"({slots[by_path[child]]} IS NOT NULL)::INTEGER")
        else:
            terms.append(f"({slots[child]} IS NOT NULL)::INTEGER")
    return " + ".join(terms) if terms else "0"


def _extra(route: Route, slots: dict[str, str]) -> str:
    """Unknown keys of every known object, as one JSON object of ``path: value`` (or NULL).

    Fast path: an object with no more keys than known keys present has no unknown key.
    Only the other rows (new fields, or known keys holding JSON null) pay for the
    exact key-by-key comparison.
    """
    if not route.known:
        return "NULL"
    maybe = []
    parts = []
    for i, (path, keys) in enumerate(route.known.items(), start=1):
        present = _presence(route, slots, i, path, keys)
        maybe.append(f"coalesce(len(_k[{i}]), 0) > {present}")
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
    return (f"CASE WHEN {' OR '.join(maybe)} THEN "
            f"CASE WHEN {exact} THEN nullif({built}, '{{}}') END END")


def _extraction_paths(route: Route) -> dict[str, str]:
    """Alias → JSONPath of everything the query extracts: the fields, plus the known keys
    that are neither a field nor an object of ``known`` (to count them as present)."""
    paths = {a: f.path for a, f in route.fields.items()}
    field_paths = set(paths.values())
    for path, keys in route.known.items():
        for key in keys:
            child = f"{path}.{key}"
            if child not in field_paths and child not in route.known:
                paths[child] = child
                field_paths.add(child)
    return paths


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


def _present(route: Route, condition: str) -> str:
    """Replace ``present(<known object path>)`` by a test on that object's keys."""
    levels = list(route.known)
    return re.sub(r"present\(([^)]+)\)",
                  lambda m: f"(_k[{levels.index(m.group(1)) + 1}] IS NOT NULL)", condition)


def route_query(route: Route, relation: str = "batch") -> str:
    """The DuckDB query that turns the frames of ``route`` into rows of its tables."""
    extraction = _extraction_paths(route)
    slots = {a: f"_v[{i}]" for i, a in enumerate(extraction, start=1)}
    aliases = list(route.fields)
    typed = [_typed(a, route.fields[a], slots[a]) for a in aliases]
    typed += [
        f"map_entries(TRY(json_transform({slots[a]}, '\"MAP(VARCHAR, VARCHAR)\"'))) "
        f"AS {_entries(a)}"
        for a in aliases if route.fields[a].type == "MAP"
    ]
    checks = [c for a in aliases if (c := _type_error(a, route.fields[a], slots[a]))]
    checks += [_child_error(c, route) for c in route.children.values()]
    keys = f"json_keys(doc, {sql_list(list(route.known))})" if route.known else "NULL"
    outputs = [c for t, exprs in route.tables.items() for c in _table_columns(t, exprs)]
    outputs += [f"({_present(route, cond)}) AS {_ident(t + '.' + WHEN)}"
                for t, cond in route.when.items()]
    outputs += [_child_column(n, c) for n, c in route.children.items()]
    return f"""
WITH src AS (
    SELECT _file, _row, seq, received_at, doc FROM {relation}
    WHERE route = {sql_string(route.name)}
), ext AS (
    SELECT *, json_extract_string(doc, {sql_list(list(extraction.values()))}) AS _v,
           {keys} AS _k
    FROM src
), typed AS (
    SELECT *, {', '.join(typed)} FROM ext
), checked AS (
    SELECT *, {_type_errors(checks)} AS _type_errors, {_extra(route, slots)} AS extra
    FROM typed
)
SELECT _file, _row, _type_errors, {', '.join(outputs)}
FROM checked
"""
