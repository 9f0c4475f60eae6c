"""Rows as tuples, written in bulk: the hot write paths (the page ingest, the bulk reservation)
build plain tuples instead of model instances and write each table with one statement.

- `new_ids`: primary keys handed out before the rows are written (PostgreSQL: the tables'
  own sequences, one round trip for several tables; SQLite: above the current maximum, safe
  because our SQLite transactions take the write lock at BEGIN), so rows that point at each
  other can be built in memory and each row is written once, with its final values.
- `insert_rows`: one INSERT ... SELECT FROM unnest(column arrays) per table on PostgreSQL (one
  binary array parameter per column; no model instances, no per-field Python conversion);
  `bulk_create` elsewhere. Not COPY: COPY FROM refuses tables under row-level security.
- `insert_many`: several tables' INSERTs as one statement (one round trip).

Columns left out get the model field's default; auto_now / auto_now_add timestamps get the
same `now` for the whole call. No model signals are sent (bulk_create sends none either).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import Enum

from django.db import connection, models
from django.utils import timezone
from psycopg.types.json import Jsonb

_sequences: dict[str, str] = {}
_plans: dict[tuple[type, tuple[str, ...]], tuple] = {}


def _sequence(table: str) -> str:
    seq = _sequences.get(table)
    if seq is None:
        with connection.cursor() as cur:
            cur.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
            seq = _sequences[table] = cur.fetchone()[0]
    return seq


def new_ids(*wanted: tuple[type[models.Model], int]) -> list[list[int]]:
    """Fresh primary keys, ascending: new_ids((Order, 3), (OrderLine, 9)) -> [[...3], [...9]].
    Must run inside the transaction that writes the rows."""
    if not connection.in_atomic_block:
        raise RuntimeError("new_ids() outside a transaction")
    wanted = tuple((m, n) for m, n in wanted)
    if connection.vendor == "postgresql":
        parts, params = [], []
        for model, n in wanted:
            parts.append("(SELECT array_agg(nextval(%s::regclass)) FROM generate_series(1, %s))")
            params += [_sequence(model._meta.db_table), n]
        with connection.cursor() as cur:
            cur.execute("SELECT " + ", ".join(parts), params)
            row = cur.fetchone()
        return [sorted(ids or []) for ids in row]
    out = []
    with connection.cursor() as cur:
        for model, n in wanted:
            table = model._meta.db_table
            cur.execute(f'SELECT MAX(id) FROM "{table}"')  # noqa: S608 (a model's table name)
            top = cur.fetchone()[0] or 0
            if connection.vendor == "sqlite":
                cur.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
                seq = cur.fetchone()
                top = max(top, seq[0] if seq else 0)
            out.append(list(range(top + 1, top + 1 + n)))
    return out


def _plan(model: type[models.Model], columns: tuple[str, ...]):
    key = (model, columns)
    plan = _plans.get(key)
    if plan is None:
        fields = {f.attname: f for f in model._meta.concrete_fields}
        unknown = set(columns) - set(fields)
        if unknown:
            raise ValueError(f"{model.__name__} has no column(s) {sorted(unknown)}")
        rest = [f for name, f in fields.items() if name not in columns and not (f.primary_key and f.name == "id")]
        # choice values may come as enum members (OrderStatus.APPROVED): psycopg would write
        # the member's name, Django writes its value
        enum_at = tuple(i for i, c in enumerate(columns) if fields[c].choices)
        plan = _plans[key] = ([fields[c] for c in columns], rest, enum_at)
    return plan


class JsonText:
    """A JSON column value whose text was made already (e.g. to hash it): written as it is."""

    __slots__ = ("text", "value")

    def __init__(self, value, text: str):
        self.value, self.text = value, text


def _adapt(i: int, v, dump: dict):
    if i in dump:
        if isinstance(v, JsonText):
            return Jsonb(v.text, dumps=str)
        return connection.ops.adapt_json_value(v, dump[i])
    return v.value if isinstance(v, Enum) else v


def insert_rows(model: type[models.Model], columns: Sequence[str], rows: Iterable[tuple], *,
                returning: bool = False) -> list[int] | None:
    """INSERT the rows (tuples in `columns` order, field attnames, e.g. "order_id"); with
    `returning`, the new primary keys in row order."""
    rows = list(rows)
    if not rows:
        return [] if returning else None
    if connection.vendor != "postgresql":
        objs = _bulk_create(model, tuple(columns), rows)
        return [o.pk for o in objs] if returning else None
    sql, params = _insert_sql(model, tuple(columns), rows)
    with connection.cursor() as cur:
        cur.execute(sql + (" RETURNING id" if returning else ""), params)
        return [r[0] for r in cur.fetchall()] if returning else None


def insert_many(*parts: tuple[type[models.Model], Sequence[str], Iterable[tuple]]) -> None:
    """Several tables' rows in ONE statement on PostgreSQL (one round trip): each INSERT a
    data-modifying WITH part. Foreign keys are checked at commit (Django declares them
    DEFERRABLE INITIALLY DEFERRED), so parts may point at each other's rows."""
    parts = [(model, tuple(columns), list(rows)) for model, columns, rows in parts]
    parts = [p for p in parts if p[2]]
    if not parts:
        return
    if connection.vendor != "postgresql":
        for model, columns, rows in parts:
            _bulk_create(model, columns, rows)
        return
    statements, params = [], []
    for model, columns, rows in parts:
        sql, p = _insert_sql(model, columns, rows)
        statements.append(sql)
        params += p
    sql = statements[-1]
    if len(statements) > 1:
        sql = "WITH " + ", ".join(f"w{k} AS ({st})" for k, st in enumerate(statements[:-1])) + " " + sql
    with connection.cursor() as cur:
        cur.execute(sql, params)


def _defaults(rest) -> tuple:
    now = timezone.now()
    return tuple(now if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False) else f.get_default()
                 for f in rest)


def _bulk_create(model, columns: tuple[str, ...], rows: list[tuple]) -> list:
    _given, rest, _enum_at = _plan(model, columns)
    extra = _defaults(rest)
    names = columns + tuple(f.attname for f in rest)
    return model.objects.bulk_create([model(**{k: v.value if isinstance(v, JsonText) else v
                                               for k, v in zip(names, row + extra, strict=True)})
                                      for row in rows], batch_size=500)


def _insert_sql(model, columns: tuple[str, ...], rows: list[tuple]) -> tuple[str, list]:
    given, rest, enum_at = _plan(model, columns)
    extra = _defaults(rest)
    all_fields = given + rest
    dump = {i: f.encoder for i, f in enumerate(all_fields) if isinstance(f, models.JSONField)}
    columns_ = list(zip(*(row + extra for row in rows), strict=True))
    # (%b: binary, needs server-side binding; with client-side binding psycopg quotes the values)
    mark = "%b" if connection.settings_dict.get("OPTIONS", {}).get("server_side_binding") is True else "%s"
    select, arrays, params = [], [], []
    for i, (field, values) in enumerate(zip(all_fields, columns_, strict=True)):
        if i in dump or i in enum_at:
            values = [v if v is None else _adapt(i, v, dump) for v in values]
        cast = field.db_type(connection)
        first = values[0]
        if i not in dump and all(type(v) is type(first) and v == first for v in values):
            # the same in every row (tenant, shop, timestamps, defaults): one scalar parameter
            select.append(f"{mark}::{cast}")
            params.append(first)
        else:
            # else one array parameter per column: a statement the size of a page costs no
            # more to parse than a one-row INSERT (a VALUES list of placeholders costs ~5x)
            select.append(f"u.c{len(arrays)}")
            arrays.append((list(values), cast))
    collist = ", ".join(connection.ops.quote_name(f.column) for f in all_fields)
    table = connection.ops.quote_name(model._meta.db_table)
    sql = f"INSERT INTO {table} ({collist}) SELECT {', '.join(select)}"  # noqa: S608 (placeholders only)
    if arrays:  # placeholders in text order: the select list's scalars, then the arrays
        sql += (" FROM unnest(" + ", ".join(f"{mark}::{cast}[]" for _v, cast in arrays) + ") AS u("
                + ", ".join(f"c{k}" for k in range(len(arrays))) + ")")
        params += [values for values, _cast in arrays]
    elif len(rows) > 1:  # every row the same
        sql += f" FROM generate_series(1, {len(rows):d})"
    return sql, params
