"""Turn a route declaration (``transforms.routes``) into one DuckDB query.

The query reads the route's frames from the batch relation (columns ``_file``, ``_row``,
``seq``, ``received_at``, ``connection_id``, ``doc``, ``route``, ``_colons``) and returns
one row per frame with:

* ``_file``, ``_row``: lineage inside the batch;
* ``_type_errors``: NULL, or a readable list of the fields whose value has the wrong type
  (validation turns it into a quarantine reason);
* ``"<table>.<column>"`` for every column of every table the route feeds;
* ``"<child table>.__map"`` (the JSON text of the child's map, NULL unless an object)
  and ``"<child table>.<column>"`` for the child's columns taken from the frame: the
  caller runs ``child_query`` over the result (``json_each`` lists the entries, several
  times faster than building a MAP for every frame).

Every frame: one ``json_transform`` into a typed STRUCT of the route's fields (integers
read as DOUBLE so a fraction is caught, not rounded; timestamps as text, then cast).
Then, cheapest first, each step only for the frames the previous one could not settle:

1. counted (``_counted``): the frame's ``":`` add up to its known keys holding a value of
   the right type: no unknown key, no null, no type error; nothing else to compute;
2. listed (``_listed_fast``): ``json_keys`` of each known object shows no unknown key and
   no typed field that failed to convert (a null in a text field, as in the manual's
   ``"hid": null``, needs nothing more);
3. exact: ``json_extract_string`` of every field as text, to name each field whose value
   has the wrong type, and the key-by-key comparison that builds ``extra``.
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
# How many ``":`` the frame's text holds (counted by ``transforms.batch``), and the test
# that no key is followed by whitespace before its colon; see ``_counted``.
COLONS = "_colons"
_WS_BEFORE_COLON = ("contains(doc, ' :') OR contains(doc, chr(9) || ':') "
                    "OR contains(doc, chr(10) || ':') OR contains(doc, chr(13) || ':')")


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


def _found(route: Route, by_path: dict[str, str], path: str) -> str:
    """SQL: true when the key at ``path`` holds a value of the right type; a known object
    counts when one of its known keys does (an object with none is not counted, which can
    only make the count of ``_counted`` not add up)."""
    if path not in route.known:
        return f"({_ident(by_path[path])} IS NOT NULL)"
    return "(" + " OR ".join(_found(route, by_path, f"{path}.{k}")
                             for k in route.known[path]) + ")"


def _counted(route: Route, fields: dict[str, Field]) -> str:
    """SQL: true when counting proves the frame has no key outside its known keys, no
    JSON null and no value of the wrong type, so it needs no key listing at all.

    Let C be the number of ``":`` in the frame's text (``COLONS``) and E the number of
    keys the route accounts for: each known key holding a value of the right type, plus
    each entry of the JSON maps (``exd.io``, ``frm.fld``, ``cmd``). The E keys are
    distinct keys of the frame. When no key is followed by whitespace before its colon
    (checked), every key puts one ``":`` in the text, right after its closing quote, and
    text inside string values can only add more: C ≥ (keys in the frame) ≥ E. A frame
    with any other key (unknown, duplicate, holding null or a value of the wrong type,
    inside a map's value) has more keys than E, so C > E. C = E therefore proves there is
    none; key-like text inside a string value can only make the count not add up and
    send the frame to the key listing, never hide a key.
    """
    if not route.known:
        return "false"
    by_path = {f.path: a for a, f in fields.items()}
    terms = [f"{_found(route, by_path, f'{path}.{key}')}::INTEGER"
             for path, keys in route.known.items() for key in keys]
    terms += [f"coalesce(len(json_keys({_ident(a)})), 0)"
              for a, f in route.fields.items() if f.type == "MAP"]
    conditions = [f"NOT ({_WS_BEFORE_COLON})", f"{COLONS} = {' + '.join(terms)}"]
    conditions += [f"NOT {_child_invalid(c)}" for c in route.children.values()]
    return " AND ".join(conditions)


def _unknown_keys(route: Route) -> str:
    """SQL: true when a known object lists a key its route does not know (needs ``_k``)."""
    return " OR ".join(
        f"len(list_filter(coalesce(_k[{i}], []), lambda x: NOT list_contains("
        f"{sql_list(keys)}, x))) > 0"
        for i, keys in enumerate(route.known.values(), start=1)
    )


def _listed_fast(route: Route, fields: dict[str, Field]) -> str:
    """SQL, for a frame whose count did not add up: true when its key listing (``_k``)
    shows that the exact path has nothing to add: no unknown key, and no typed field that
    is listed but did not convert (a JSON null, or a value of the wrong type: only the
    exact path's text tells which). A text field converts from any value but null, so a
    null there (the manual's ``"hid": null``) needs nothing more."""
    if not route.known:
        return "false"  # no key list to compare with (outbound commands: rare)
    levels = list(route.known)
    conditions = [f"NOT ({_unknown_keys(route)})"]
    for alias, f in fields.items():
        if f.type == "VARCHAR" or alias.startswith("__key:"):
            continue
        parent, _, key = f.path.rpartition(".")
        if parent not in levels:
            raise ValueError(f"route {route.name}: field {f.path} is not under a known object")
        conditions.append(f"NOT (list_contains(_k[{levels.index(parent) + 1}], "
                          f"{sql_string(key)}) AND {_ident(alias)} IS NULL)")
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
    built = f"TRY(to_json(map_from_entries(flatten([{', '.join(parts)}])))::VARCHAR)"
    return f"CASE WHEN {_unknown_keys(route)} THEN nullif({built}, '{{}}') END"


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


def _present(route: Route, fields: dict[str, Field], condition: str) -> str:
    """Replace ``present(<known object path>)`` by a test that the frame has that object.

    When the count adds up every key is accounted for, so the object is there exactly
    when one of its known keys is; otherwise ``json_keys`` says whether it is an object.
    """
    levels = list(route.known)
    by_path = {f.path: a for a, f in fields.items()}

    def test(m: re.Match[str]) -> str:
        path = m.group(1)
        return (f"(CASE WHEN _counted THEN {_found(route, by_path, path)} "
                f"ELSE _k[{levels.index(path) + 1}] IS NOT NULL END)")

    return re.sub(r"present\(([^)]+)\)", test, condition)


def _typed_ctes(route: Route, relation: str) -> str:
    """The CTEs shared by both queries of a route, up to ``counted`` (one row per frame:
    lineage, ``doc``, every field typed, ``_counted``)."""
    fields = _all_fields(route)
    structure, access = _structure(fields)
    typed = [_typed(a, f, access[a]) for a, f in fields.items()]
    return f"""
WITH src AS (
    SELECT _file, _row, seq, received_at, connection_id, doc, {COLONS} FROM {relation}
    WHERE route = {sql_string(route.name)}
), ext AS (
    SELECT *, json_transform(doc, {sql_string(structure)}) AS _s FROM src
), typed AS (
    SELECT * EXCLUDE (_s), {', '.join(typed)} FROM ext
), counted AS (
    SELECT *, coalesce({_counted(route, fields)}, false) AS _counted FROM typed
)"""


def _outputs(route: Route) -> str:
    """The output columns of both queries of a route (tables, ``when`` flags, child inputs)."""
    fields = _all_fields(route)
    outputs = [c for t, exprs in route.tables.items() for c in _table_columns(t, exprs)]
    outputs += [f"({_present(route, fields, cond)}) AS {_ident(t + '.' + WHEN)}"
                for t, cond in route.when.items()]
    outputs += [c for n, child in route.children.items() for c in _child_inputs(n, child)]
    return ", ".join(outputs)


def fast_query(route: Route, relation: str = "batch") -> str:
    """The fast query of ``route``: one row per frame, valid where ``_fast`` is true (the
    count adds up, or the key listing shows nothing to add: ``extra`` and
    ``_type_errors`` are NULL). The other frames are read again by ``route_query``."""
    return f"""{_listed_ctes(route, relation)}
SELECT _file, _row, _fast, NULL::VARCHAR AS _type_errors,
    {_outputs(route)}
FROM (SELECT *, NULL::VARCHAR AS extra FROM fast)
"""


def _listed_ctes(route: Route, relation: str) -> str:
    """``_typed_ctes`` then steps 2 (the key listing of frames whose count did not add up)
    and ``fast`` (true when no exact reading is needed)."""
    keys = f"json_keys(doc, {sql_list(list(route.known))})" if route.known else "NULL"
    return f"""{_typed_ctes(route, relation)}, listed AS (
    SELECT *, CASE WHEN NOT _counted THEN {keys} END AS _k FROM counted
), fast AS (
    SELECT *, _counted OR coalesce({_listed_fast(route, _all_fields(route))}, false) AS _fast
    FROM listed
)"""


def route_query(route: Route, relation: str = "batch") -> str:
    """The DuckDB query that turns the frames of ``route`` into rows of its tables, every
    check included (the exact path, for any frame)."""
    slots = {a: f"_v[{i}]" for i, a in enumerate(route.fields, start=1)}
    errors = [e for a, f in route.fields.items() if (e := _type_error(a, f, slots[a]))]
    errors += [_child_error(c, route) for c in route.children.values()]
    type_errors = (f"nullif(concat_ws('; ', {', '.join(errors)}), '')" if errors else "NULL")
    paths = sql_list([f.path for f in route.fields.values()])
    return f"""{_listed_ctes(route, relation)}, slow AS (
    SELECT *, CASE WHEN NOT _fast THEN json_extract_string(doc, {paths}) END AS _v FROM fast
), checked AS (
    SELECT *,
        CASE WHEN NOT _fast THEN {type_errors} END AS _type_errors,
        CASE WHEN NOT _fast THEN {_extra(route)} END AS extra
    FROM slow
)
SELECT _file, _row, _type_errors, {_outputs(route)}
FROM checked
"""
