"""Aggregates of one subject: the reads reports need (see aggregate_sql.py for the rules).

* `aggregate`: dimensions x measures as one grouped SELECT;
* `list_rows`: a list report's rows (read AND export scope), streamed;
* `state_entry_counts`: how many records entered each state of a state field (from the
  audit trail) — funnels; `state_entries`: each entry with the record's current state —
  time in stage;
* `records_as_of`: the readable records as they stood at a past instant, rebuilt from the
  audit trail (`as_of_reads.py`) — "as of" runs.

Every one of them ANDs the subject's read scope into its SQL and refuses hidden fields
exactly like unknown ones; a path through a reference joins only records the subject may
read.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa

from metacrm.access import as_of_sql
from metacrm.access.aggregate_query import AggregateQuery, StateEntry
from metacrm.access.aggregate_sql import AggregateBuilder, _and
from metacrm.access.as_of_reads import PastRecord, past_records
from metacrm.access.scoped_queries import ScopedQueries
from metacrm.criteria.tree import SYSTEM_FIELDS
from metacrm.kernel.errors import ErrorDetail, ValidationFailed
from metacrm.metadata.model import FieldDef
from metacrm.storage import trailing_writes
from metacrm.storage.system_tables import audit

STATE_ACTIONS = ("created", "updated", "transitioned")
"""Audit actions that can put a record into a state."""
STREAM_ROWS = 2_000
"""Rows fetched at a time by `list_rows` (constant memory for any size)."""


def _entered_state(state_field: str) -> sa.ColumnElement[Any]:
    """The state an audit row records: its `new` value, or — for the whole-record row a
    create writes (field NULL, `new` = every initial value) — that object's state field."""
    return sa.case((audit.c.field.is_(None), audit.c.new[state_field].as_string()),
                   else_=sa.cast(audit.c.new, sa.Text))


def _state(raw: Any) -> str | None:
    """An audit `new` value (JSON text of a state code) as the code."""
    if raw is None:
        return None
    try:
        value = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return str(raw)
    return None if value is None else str(value)


class ScopedAggregates(ScopedQueries):
    """Report reads of one subject (see the module docstring)."""

    def record_table(self, entity: str) -> sa.Table:
        """The entity's table, for statements built in this package (never handed out)."""
        return self._repository.table(entity)

    def scope_condition_on(self, entity: str, operation: str, table: sa.FromClause
                           ) -> sa.ColumnElement[bool] | None:
        """The subject's scope of `operation` on `entity` as SQL over `table` (an alias)."""
        return self.policy.condition(self.subject, entity, operation,
                                     cast(sa.Table, table), self.context)

    def aggregate(self, conn: sa.Connection, entity: str, query: AggregateQuery
                  ) -> list[tuple[Any, ...]]:
        """One row per group: the dimension values then the measure values (storage
        form; buckets as the database returns them — `date_buckets.bucket_value`).
        Forbidden without a read grant; ValidationFailed naming hidden or unknown fields."""
        self.require(entity, "read")
        builder = AggregateBuilder(self, entity, conn.dialect.name)
        return [tuple(row) for row in conn.execute(builder.statement(query))]

    def list_rows(
        self, conn: sa.Connection, entity: str, paths: Sequence[tuple[str, str]], *,
        criteria: Any = None, where: Mapping[str, Sequence[str]] | None = None,
    ) -> tuple[list[FieldDef], Iterator[tuple[Any, ...]]]:
        """The fields of `paths` ((path, pointer) pairs) and an iterator over the rows of
        the records inside the read AND export scopes: id, then each field's columns."""
        self.require(entity, "read")
        self.require(entity, "export")
        builder = AggregateBuilder(self, entity, conn.dialect.name)
        statement, fields = builder.list_statement(paths, criteria, where or {})
        result = conn.execution_options(stream_results=True,
                                        yield_per=STREAM_ROWS).execute(statement)
        return fields, (tuple(row) for row in result)

    def as_of_sql_fields(self, entity: str, paths: Sequence[str]
                         ) -> dict[str, FieldDef] | None:
        """The fields of `paths` when every one is rolled back in SQL by `as_of_sql`
        (visible own fields of a supported type); None otherwise (the Python roll-back
        then runs, and reports hidden or unknown paths)."""
        visible = self.policy.visible_entity(self.subject, entity)
        fields: dict[str, FieldDef] = {}
        for path in paths:
            fdef = visible.field(path)
            if fdef is None:
                return None
            fields[path] = fdef
        return fields if as_of_sql.supports(fields) else None

    def aggregate_as_of(self, conn: sa.Connection, entity: str, query: AggregateQuery,
                        instant: datetime, fields: Mapping[str, FieldDef]
                        ) -> list[tuple[Any, ...]]:
        """`aggregate` over the records as they stood at `instant` (rolled back in SQL by
        `as_of_sql` from today's rows inside the subject's current read scope); `fields`
        from `as_of_sql_fields`."""
        scope = self.require(entity, "read")
        trailing_writes.flush(conn)
        table = self._repository.table(entity)
        names = {name: [spec.name for spec in self.registry.get(f.type).columns(f)]
                 for name, f in fields.items()}
        source = as_of_sql.rolled_back(
            table, entity, fields, names,
            self.policy.condition(self.subject, entity, "read", table, self.context),
            scope.unrestricted, instant, conn.dialect.name)
        builder = AggregateBuilder(self, entity, conn.dialect.name, source)
        return [tuple(row) for row in conn.execute(builder.statement(query))]

    def records_as_of(self, conn: sa.Connection, entity: str, instant: datetime,
                      paths: Sequence[tuple[str, str]],
                      operations: Sequence[str] = ("read",)) -> list[dict[str, Any]]:
        """The records of `entity` alive at `instant` inside the subject's scopes of
        `operations` (their current rights, see `as_of_reads`), each `{"id", path:
        normalised value}` for the `paths` ((path, pointer) pairs: fields of the entity,
        system columns, or one step through a reference, `company.industry` — the
        reference as it was then, to the referenced record as it was then). Forbidden
        without a grant of each operation; ValidationFailed naming hidden or unknown
        paths."""
        scopes = [self.require(entity, operation) for operation in operations]
        visible = self.policy.visible_entity(self.subject, entity)
        errors: list[ErrorDetail] = []
        fields: dict[str, FieldDef] = {}
        via: dict[str, dict[str, FieldDef]] = {}
        """Reference field -> the fields of its target the paths read through it."""
        for path, pointer in paths:
            head, _, tail = path.partition(".")
            fdef = visible.field(head) or SYSTEM_FIELDS.get(head)
            if fdef is None:
                errors.append(ErrorDetail(f"{head!r} is not a field of {entity!r}", pointer))
            elif not tail:
                fields[head] = fdef
            elif fdef.type != "reference" or fdef.target_entity is None:
                errors.append(ErrorDetail(f"{head!r} is not a reference of {entity!r}",
                                          pointer))
            else:
                target = fdef.target_entity
                tdef = (self.policy.visible_entity(self.subject, target).field(tail)
                        or SYSTEM_FIELDS.get(tail))
                if tdef is None:
                    errors.append(ErrorDetail(f"{tail!r} is not a field of {target!r}",
                                              pointer))
                else:
                    fields[head] = fdef
                    via.setdefault(head, {})[tail] = tdef
        if errors:
            raise ValidationFailed("invalid report", errors)
        table = self._repository.table(entity)
        condition = _and([self.policy.condition(self.subject, entity, operation, table,
                                                self.context) for operation in operations])
        unrestricted = all(scope.unrestricted for scope in scopes)
        out = [{"id": record.id, **record.values}
               for record in self._past(conn, entity, condition, unrestricted, instant,
                                        fields)]
        for head, tails in via.items():
            referenced = self._referenced_as_of(conn, str(fields[head].target_entity),
                                                instant, tails)
            for values in out:
                then = referenced.get(values.get(head) or "", {})
                values.update({f"{head}.{tail}": then.get(tail) for tail in tails})
        return out

    def _past(self, conn: sa.Connection, entity: str, scope: sa.ColumnElement[bool] | None,
              unrestricted: bool, instant: datetime, fields: Mapping[str, FieldDef]
              ) -> list[PastRecord]:
        """`past_records` of `entity` with `fields` as their Python values."""
        visible = self.policy.visible_entity(self.subject, entity)

        def decode(name: str, value: Any) -> Any:
            return self._normalised(fields[name], value)

        records = past_records(conn, self._repository, visible, scope, unrestricted,
                               instant, fields, decode)
        for record in records:
            record.values = {name: record.values.get(name) for name in fields}
        return records

    def _referenced_as_of(self, conn: sa.Connection, target: str, instant: datetime,
                          fields: Mapping[str, FieldDef]) -> dict[str, dict[str, Any]]:
        """The records of `target` at the instant the subject may read today (id -> the
        `fields`), for paths through a reference: like a live run's join, a referenced
        record outside the read scope (or an entity not readable at all) reads as no
        record, so its values are empty."""
        scope = self.scope(target, "read")
        if not scope.allowed:
            return {}
        condition = self.policy.condition(self.subject, target, "read",
                                          self._repository.table(target), self.context)
        return {record.id: record.values for record in self._past(
            conn, target, condition, scope.unrestricted, instant, fields)}

    def _normalised(self, fdef: FieldDef, value: Any) -> Any:
        """A JSON value of the trail as the field's Python value (None when the field's
        type changed since and the old value no longer fits)."""
        if value is None or isinstance(value, datetime):
            return value
        try:
            return self.registry.get(fdef.type).normalize(fdef, value)
        except (ValueError, TypeError, ArithmeticError):
            return None

    def _entries_source(
        self, conn: sa.Connection, entity: str, state_field: str,
        since: datetime | None, until: datetime | None, criteria: Any,
    ) -> tuple[sa.Table, sa.ColumnElement[bool] | None]:
        """The record table and the WHERE of the readable records' entries into a state."""
        self.require(entity, "read")
        visible = self.policy.visible_entity(self.subject, entity)
        fdef = visible.field(state_field)
        if fdef is None or fdef.type != "state":
            raise ValidationFailed("invalid report", [ErrorDetail(
                f"{state_field!r} is not a state field of {entity!r}", "/pipeline")])
        builder = AggregateBuilder(self, entity, conn.dialect.name)
        condition = _and([
            audit.c.entity == entity,
            sa.or_(audit.c.field == state_field,
                   sa.and_(audit.c.field.is_(None), audit.c.action == "created")),
            audit.c.action.in_(STATE_ACTIONS),
            None if since is None else audit.c.at >= since,
            None if until is None else audit.c.at < until,
            self.scope_condition_on(entity, "read", builder.table),
            builder.criteria(criteria, "/filter"),
        ])
        if builder.errors:
            raise ValidationFailed("invalid report", builder.errors)
        return builder.table, condition

    def state_entry_counts(
        self, conn: sa.Connection, entity: str, state_field: str, *,
        since: datetime | None = None, until: datetime | None = None, criteria: Any = None,
    ) -> dict[str, int]:
        """How many different readable records entered each state within [since, until)
        (one grouped statement: funnels)."""
        table, condition = self._entries_source(conn, entity, state_field, since, until,
                                                criteria)
        state = _entered_state(state_field)
        statement = (sa.select(state.label("new"),
                               sa.func.count(sa.distinct(audit.c.record_id)).label("n"))
                     .select_from(audit.join(table, table.c.id == audit.c.record_id))
                     .group_by(state))
        if condition is not None:
            statement = statement.where(condition)
        counts: dict[str, int] = {}
        for row in conn.execute(statement):
            name = _state(row.new)
            if name is not None:
                counts[name] = counts.get(name, 0) + int(row.n)
        return counts

    def state_entries(
        self, conn: sa.Connection, entity: str, state_field: str, *,
        since: datetime | None = None, until: datetime | None = None, criteria: Any = None,
    ) -> list[StateEntry]:
        """Each entry of a readable record into a state of `state_field` within
        [since, until), in record then time order, with the record's current state."""
        table, condition = self._entries_source(conn, entity, state_field, since, until,
                                                criteria)
        statement = (
            sa.select(audit.c.record_id, _entered_state(state_field).label("new"),
                      audit.c.at, table.c[state_field].label("current"))
            .select_from(audit.join(table, table.c.id == audit.c.record_id))
            .order_by(audit.c.record_id, audit.c.at, audit.c.id))
        if condition is not None:
            statement = statement.where(condition)
        return [StateEntry(row.record_id, _state(row.new), row.at, row.current)
                for row in conn.execute(statement)]
