"""Turn a route declaration (``transforms.routes``) into one DuckDB query.

The query reads the frames labelled with the route (a guess, see ``transforms.classify``)
from the batch relation (columns ``_index``, ``_file``, ``_row``, ``seq``, ``received_at``,
``direction``, ``doc``, ``route``, ``_colons``) and returns one row per frame with:

* ``_index``, ``_file``, ``_row``: lineage inside the batch;
* ``_label``: the frame's true route label, from its parsed ``type`` fields (or
  ``!unparsed``); rows whose label is not this route were guessed wrong and are ignored
  by the caller, which labels them properly and routes them again;
* ``_path``: which path the frame took, an index into ``PATHS`` (for the counts);
* ``_type_errors``: NULL, or a readable list of the fields whose value has the wrong type
  (validation turns it into a quarantine reason);
* ``"<table>.<column>"`` for every column of every table the route feeds;
* ``"<child table>"``: a list of structs, one per entry of the child's JSON map.

Fast path, for every frame: ONE parse, a ``json_transform`` into a typed STRUCT of the
type fields, the route's fields and its other known keys (integers read as DOUBLE so a
fraction is caught, not rounded; timestamps as text, then cast). No key listing: whether
the frame may hold a key nobody mapped is decided by counting (``_fast``).

Other frames (a JSON null, a value of the wrong type, an unknown key: few in practice)
take the exact path: ``json_extract`` of every path as JSON text (a null is told apart
from a missing key) to count again and to name each field whose value has the wrong
type; only frames that still do not add up pay for ``json_keys`` and the key-by-key
comparison that builds ``extra``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

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
    "MAP": "MAP(VARCHAR, VARCHAR)",
}
WHEN = "__when"
PATH = "_path"
PATHS = ("fast", "exact", "slow")
TYPE_PATHS = ("$.params.type", "$.params.sub-type", "$.type")
UNPARSED = "!unparsed"
UNTYPED = "!untyped"

# How many ``":`` the frame's text holds (counted by ``transforms.batch``), and the test
# that no key is followed by whitespace before its colon; see ``_adds_up``.
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


def _entries(alias: str) -> str:
    return _ident(alias + "__entries")


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
    """The route's fields plus, as text, the type fields and every known key that is
    neither a field nor a known object (so that its presence can be counted)."""
    fields = dict(route.fields)
    taken = {f.path for f in fields.values()} | set(route.known)
    extra_paths = [*TYPE_PATHS,
                   *(f"{path}.{key}" for path, keys in route.known.items() for key in keys)]
    for path in extra_paths:
        if path not in taken:
            fields[f"__key:{path}"] = Field(path, "VARCHAR")
            taken.add(path)
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


def _read(alias: str) -> str:
    """The column holding the value of ``alias`` as json_transform read it."""
    return _ident("r:" + alias)


def _typed(alias: str, f: Field) -> str:
    read = _read(alias)
    name = _ident(alias)
    if f.type in _INTEGER_TYPES:
        return f"CASE WHEN {read} = trunc({read}) THEN TRY_CAST({read} AS {f.type}) END AS {name}"
    if f.type == "TIMESTAMPTZ":
        return f"TRY_CAST({read} AS TIMESTAMPTZ) AS {name}"
    if f.type == "MAP":
        return f"map_entries({read}) AS {_entries(alias)}"
    return f"{read} AS {name}"


def _typed_name(alias: str, f: Field) -> str:
    return _entries(alias) if f.type == "MAP" else _ident(alias)


def _type_error(alias: str, f: Field, slot: str) -> tuple[str, str] | None:
    """SQL: (condition, message) of this field's value not having its type.

    ``slot`` is the field's JSON text on the exact path (NULL on the fast path, where
    every value json_transform could not read would have broken the count).
    """
    if f.type == "VARCHAR":
        return None
    has_value = f"({_read(alias)} IS NOT NULL OR ({slot} IS NOT NULL AND {slot} <> 'null'))"
    condition = f"({has_value} AND {_typed_name(alias, f)} IS NULL)"
    shown = f"coalesce({text_value(slot)}, json_extract_string(doc, {sql_string(f.path)}))"
    what = "an object" if f.type == "MAP" else _KIND[f.type]
    message = (f"{sql_string(_label(f.path) + ': ')} || '\"' || left({shown}, 60) || "
               f"{sql_string(chr(34) + ' is not ' + what)}")
    return condition, message


def _child_invalid(child: Child) -> str:
    return (f"coalesce(list_bool_or(list_transform({_entries(child.source)}, "
            f"lambda e: coalesce({child.invalid}, false))), false)")


def _presence(route: Route, by_path: dict[str, str], path: str,
              value: Callable[[str], str]) -> str:
    """SQL: true when the key at ``path`` is in the frame: ``value(alias)`` is not NULL.

    A known object counts as present when one of its known keys is: an object whose known
    keys are all missing is not counted, which can only make the count not add up.
    """
    if path not in route.known:
        return f"({value(by_path[path])} IS NOT NULL)"
    return "(" + " OR ".join(_presence(route, by_path, f"{path}.{k}", value)
                             for k in route.known[path]) + ")"


def _adds_up(route: Route, fields: dict[str, Field], value: Callable[[str], str]) -> str:
    """SQL: true when the frame certainly has no key outside the route's known keys.

    Counting argument. Let C be the number of ``":`` in the text (``COLONS``) and E the
    number of keys the route accounts for: each known key found (``value`` not NULL) plus each entry
    of the JSON maps (``exd.io``, ``frm.fld``, ``cmd``). The E keys are distinct keys of
    the frame. When no key is followed by whitespace before its colon (checked), every
    key puts one ``":`` in the text, right after its closing quote, and text inside
    string values can only add more. So C ≥ (keys of the frame) ≥ E, and a frame with a
    key more than E (an unknown key, a duplicate key, a key inside a map's value) has
    C > E. C = E therefore proves there is no unknown key; key-like text inside a string
    value can only make the count not add up, never hide a key.
    """
    if not route.known:
        return "false"
    by_path = {f.path: a for a, f in fields.items()}
    terms = [f"{_presence(route, by_path, f'{path}.{key}', value)}::INTEGER"
             for path, keys in route.known.items() for key in keys]
    terms += [f"coalesce(len({_entries(a)}), 0)"
              for a, f in route.fields.items() if f.type == "MAP"]
    return f"(NOT ({_WS_BEFORE_COLON}) AND {COLONS} = {' + '.join(terms)})"


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


def _child_column(name: str, child: Child) -> str:
    exprs = {**child.parent, **child.columns}
    fields = ", ".join(
        f"{_ident(c.name)} := {_column(name, c.name, exprs.get(c.name, 'NULL'))}"
        for c in CORE_TABLES[name].columns
    )
    return (f"list_transform(coalesce({_entries(child.source)}, []), "
            f"lambda e: struct_pack({fields})) AS {_ident(name)}")


def _present(route: Route, fields: dict[str, Field], condition: str) -> str:
    """Replace ``present(<known object path>)`` by a test that the frame has that object.

    When the count adds up every key is accounted for, so the object is there exactly
    when one of its known keys is; otherwise ``json_keys`` says whether it is an object.
    """
    levels = list(route.known)
    by_path = {f.path: a for a, f in fields.items()}
    slots = {a: i for i, a in enumerate(fields, start=1)}

    def test(m: re.Match[str]) -> str:
        path = m.group(1)
        fast = _presence(route, by_path, path, _read)
        exact = _presence(route, by_path, path, lambda a: f"_x[{slots[a]}]")
        return (f"(CASE WHEN _fast THEN {fast} WHEN _exact THEN {exact} "
                f"ELSE _k[{levels.index(path) + 1}] IS NOT NULL END)")

    return re.sub(r"present\(([^)]+)\)", test, condition)


def label_sql(values: list[str]) -> str:
    """SQL: the route label from the text values of ``TYPE_PATHS`` (see classify)."""
    t1, t2, t3 = values
    return (f"CASE WHEN direction = 'out' THEN coalesce('out:' || {t3}, '{UNTYPED}') "
            f"WHEN {t1} IS NULL THEN '{UNTYPED}' "
            f"WHEN {t1} = 'event' THEN 'event:' || coalesce({t2}, '') ELSE {t1} END")


def route_query(route: Route, relation: str = "batch") -> str:
    """The DuckDB query that turns the frames of ``route`` into rows of its tables."""
    fields = _all_fields(route)
    structure, access = _structure(fields)
    read = [f"{access[a]} AS {_read(a)}" for a in fields]
    typed = [_typed(a, f) for a, f in route.fields.items()]
    slots = {a: f"_x[{i}]" for i, a in enumerate(fields, start=1)}
    errors = [e for a, f in route.fields.items() if (e := _type_error(a, f, slots[a]))]
    errors += [(_child_invalid(c),
                sql_string(_label(route.fields[c.source].path)
                           + ": an entry has a key or value of the wrong type"))
               for c in route.children.values()]
    if errors:
        any_error = " OR ".join(cond for cond, _ in errors)
        messages = ", ".join(f"CASE WHEN {cond} THEN {msg} END" for cond, msg in errors)
        type_errors = f"CASE WHEN {any_error} THEN concat_ws('; ', {messages}) END"
    else:
        type_errors = "NULL"
    by_path = {f.path: a for a, f in fields.items()}
    label = label_sql([_read(by_path[p]) for p in TYPE_PATHS])
    paths = sql_list([f.path for f in fields.values()])
    keys = f"json_keys(doc, {sql_list(list(route.known))})" if route.known else "NULL"
    outputs = [c for t, exprs in route.tables.items() for c in _table_columns(t, exprs)]
    outputs += [f"({_present(route, fields, cond)}) AS {_ident(t + '.' + WHEN)}"
                for t, cond in route.when.items()]
    outputs += [_child_column(n, c) for n, c in route.children.items()]
    return f"""
WITH src AS (
    SELECT _index, _file, _row, seq, received_at, direction, doc, {COLONS} FROM {relation}
    WHERE route = {sql_string(route.name)}
), ext AS (
    SELECT *, TRY(json_transform(doc, {sql_string(structure)})) AS _s FROM src
), fields AS (
    SELECT * EXCLUDE (_s), _s IS NULL AS _unparsed, {', '.join(read)} FROM ext
), typed AS (
    SELECT *, {', '.join(typed)},
        CASE WHEN _unparsed THEN '{UNPARSED}' ELSE {label} END AS _label
    FROM fields
), fast AS (
    SELECT *, _unparsed OR {_adds_up(route, fields, _read)} AS _fast FROM typed
), exact AS (
    SELECT *, CASE WHEN NOT _fast THEN json_extract(doc, {paths})::VARCHAR[] END AS _x
    FROM fast
), counted AS (
    SELECT *, NOT _fast AND {_adds_up(route, fields, lambda a: slots[a])} AS _exact
    FROM exact
), slow AS (
    SELECT *, CASE WHEN NOT _fast AND NOT _exact THEN {keys} END AS _k FROM counted
), checked AS (
    SELECT *, {type_errors} AS _type_errors,
        CASE WHEN NOT _fast AND NOT _exact THEN {_extra(route)} END AS extra
    FROM slow
)
SELECT _index, _file, _row, _label, _type_errors,
    CASE WHEN _fast THEN 0 WHEN _exact THEN 1 ELSE 2 END::UTINYINT AS {PATH},
    {', '.join(outputs)}
FROM checked
"""
