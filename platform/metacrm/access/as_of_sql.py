"""The records of an entity as they stood at a past instant, as ONE SQL subquery shaped like
the entity's table ("as of" summary and matrix runs grouped in the database).

It mirrors the Python roll-back of `as_of_reads.roll_back` row for row:

* a record existed at the instant when today's row was created by then and the earliest
  audit row after the instant is not its create (or it has no row after the instant);
* a field's value then is the `old` value of the earliest update, transition or delete row
  after the instant that names the field; without one, today's value — or nothing, for a
  record deleted (and restored) since, whose values the Python roll-back rebuilds from the
  delete alone;
* a record deleted since (no row today) comes back from its delete's final values, only
  for a subject whose scope is `all` without rules (no scope can be evaluated on a row
  that no longer exists).

The live rows are filtered by the subject's scope condition over today's table (the one
`ScopedAggregates` builds for every read), so access stays in one place. Only own fields
whose trail value reads back in SQL on both databases are supported (`supports`); other
runs keep the Python roll-back.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from metacrm.fieldtypes.money import currency_column
from metacrm.fieldtypes.sqltypes import ExactDecimal
from metacrm.metadata.model import FieldDef
from metacrm.storage.system_tables import audit

TEXT_TYPES = frozenset({"text", "textarea", "email", "phone", "url", "picklist", "state",
                        "reference", "user"})
NUMBER_TYPES = frozenset({"integer", "decimal", "percent", "money"})
SQL_TYPES = TEXT_TYPES | NUMBER_TYPES | {"boolean"}
"""Field types whose trail value (a JSON scalar, money an object) is read back in SQL."""
VALUE_ACTIONS = ("updated", "transitioned", "deleted")
NUMBER = r"^-?[0-9]+(\.[0-9]+)?$"


def supports(fields: Mapping[str, FieldDef]) -> bool:
    """Whether every field a run reads can be rolled back in SQL."""
    return all(f.type in SQL_TYPES and f.name == name for name, f in fields.items())


def _json_text(dialect: str, key: str | None) -> sa.ColumnElement[Any]:
    """The audit row's `old` (or its member `key`) as text/scalar, NULL for JSON null."""
    if dialect == "postgresql":
        path = "{}" if key is None else "{" + key + "}"
        # `key` is one of this module's constants ("amount", "currency"), never user input
        return sa.cast(audit.c.old, sa.dialects.postgresql.JSONB).op("#>>")(
            sa.literal_column(f"'{path}'::text[]"))
    return sa.func.json_extract(audit.c.old, "$" if key is None else f"$.{key}")


def _typed(dialect: str, raw: sa.ColumnElement[Any], fdef: FieldDef,
           column_type: sa.types.TypeEngine[Any]) -> sa.ColumnElement[Any]:
    """A trail value as the column holds it; a value that no longer fits reads as NULL
    (as `_normalised` does in Python) instead of failing the statement."""
    if fdef.type in NUMBER_TYPES:
        text = sa.cast(raw, sa.Text)
        fits = text.regexp_match(NUMBER) if dialect == "postgresql" else \
            sa.func.typeof(raw).in_(("integer", "real", "text"))
        value: sa.ColumnElement[Any] = sa.cast(raw, column_type)
        if dialect != "postgresql" and isinstance(column_type, ExactDecimal):
            # SQLite holds value * 10**scale as an integer (see ExactDecimal)
            scaled = sa.func.round(sa.cast(raw, sa.Float) * 10 ** column_type.scale)
            value = sa.type_coerce(sa.cast(scaled, sa.BigInteger), column_type)
        return sa.case((fits, value), else_=sa.null())
    if fdef.type == "boolean":
        if dialect == "postgresql":
            return sa.case((raw == "true", sa.true()), (raw == "false", sa.false()),
                           else_=sa.null())
        return sa.case((raw == 1, sa.true()), (raw == 0, sa.false()), else_=sa.null())
    return sa.cast(raw, column_type)


def rolled_back(table: sa.Table, entity: str, fields: Mapping[str, FieldDef],
                column_names: Mapping[str, list[str]], scope: sa.ColumnElement[bool] | None,
                unrestricted: bool, instant: datetime, dialect: str) -> sa.Subquery:
    """The subquery of the records at `instant` (id and each field's columns, named as in
    `table`); `column_names` maps each field to its columns (money: amount, currency)."""
    order = (audit.c.at, audit.c.event_id, audit.c.id)
    is_value = audit.c.action.in_(VALUE_ACTIONS)
    parts: dict[str, sa.ColumnElement[Any]] = {}
    for name, fdef in fields.items():
        if fdef.type == "money":
            parts[name] = _json_text(dialect, "amount")
            parts[currency_column(fdef)] = _json_text(dialect, "currency")
        else:
            parts[name] = _json_text(dialect, None)
    ranked = (sa.select(
        audit.c.record_id, audit.c.action, audit.c.field,
        sa.func.row_number().over(partition_by=audit.c.record_id, order_by=order)
        .label("rn_record"),
        sa.func.row_number().over(
            partition_by=(audit.c.record_id, audit.c.field,
                          sa.case((is_value, 1), else_=0)), order_by=order)
        .label("rn_field"),
        *(expr.label(f"v_{key}") for key, expr in parts.items()))
        .where(audit.c.entity == entity, audit.c.at > instant)
        .subquery("ranked"))
    firsts: list[sa.ColumnElement[Any]] = [
        sa.func.max(sa.case((ranked.c.rn_record == 1, ranked.c.action))).label("first"),
        sa.func.max(sa.case((ranked.c.action == "deleted", 1), else_=0)).label("deleted"),
    ]
    for name, fdef in fields.items():
        first_of_field = sa.and_(ranked.c.field == name, ranked.c.rn_field == 1,
                                 ranked.c.action.in_(VALUE_ACTIONS))
        firsts.append(sa.func.max(sa.case((first_of_field, 1), else_=0)).label(f"has_{name}"))
        keys = [name, currency_column(fdef)] if fdef.type == "money" else [name]
        firsts.extend(sa.func.max(sa.case((first_of_field, ranked.c[f"v_{key}"])))
                      .label(f"old_{key}") for key in keys)
    changes = (sa.select(ranked.c.record_id, *firsts).group_by(ranked.c.record_id)
               .subquery("changes"))

    def then(name: str, key: str, current: sa.ColumnElement[Any] | None
             ) -> sa.ColumnElement[Any]:
        fdef = fields[name]
        column_type = table.c[key].type
        old = changes.c[f"old_{key}"]
        value = (sa.cast(old, column_type) if key != name
                 else _typed(dialect, old, fdef, column_type))
        gone = sa.null() if current is None else sa.case(
            (changes.c.deleted == 1, sa.null()), else_=current)
        return sa.case((changes.c[f"has_{name}"] == 1, value), else_=gone).label(key)

    live_columns = [table.c.id] + [then(name, key, table.c[key])
                                   for name in fields for key in column_names[name]]
    existed = sa.or_(changes.c.first.is_(None), changes.c.first != "created")
    live = (sa.select(*live_columns)
            .select_from(table.outerjoin(changes, changes.c.record_id == table.c.id))
            .where(table.c.created_at <= instant, existed,
                   *(() if scope is None else (scope,))))
    if not unrestricted:
        return live.subquery("as_of")
    gone_columns = [changes.c.record_id.label("id")] + [
        then(name, key, None) for name in fields for key in column_names[name]]
    deleted = (sa.select(*gone_columns)
               .where(changes.c.deleted == 1, changes.c.first != "created",
                      ~sa.exists().where(table.c.id == changes.c.record_id)))
    return sa.union_all(live, deleted).subquery("as_of")
