"""The read half of `ScopedRepository` (see scoped_repository.py for the whole story).

Lists, counts and includes AND the subject's read scope into their SQL; single-record reads
check the record against the scope in Python (same criteria semantics). Hidden fields are
stripped from every record and refused in criteria, sorts and field lists exactly as
unknown fields are.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from metacrm.access.field_security import FieldAccess
from metacrm.access.policy import AccessPolicy
from metacrm.access.scope import AccessScope, RecordCheck
from metacrm.access.scoped_search import SearchResult, search_records
from metacrm.access.subject import AccessSubject
from metacrm.criteria.sql import compile_sql
from metacrm.kernel.errors import ErrorDetail, Forbidden, NotFound, ValidationFailed
from metacrm.storage import audit
from metacrm.storage.audit import AuditEntry, AuditEvent
from metacrm.storage.record_codec import Record
from metacrm.storage.record_query import Page, RecordCount
from metacrm.storage.record_references import chunks
from metacrm.storage.repository import RecordRepository

MAX_SEARCH_LENGTH = 200
MAX_ID_LENGTH = 36


def storable_id(record_id: Any) -> bool:
    """Whether `record_id` could name a record at all: text of at most 36 characters
    without NUL (which PostgreSQL cannot even compare). Anything else names no record."""
    return (isinstance(record_id, str) and len(record_id) <= MAX_ID_LENGTH
            and "\x00" not in record_id)


def _prefixed(exc: ValidationFailed, prefix: str) -> ValidationFailed:
    return ValidationFailed(exc.message, [
        ErrorDetail(e.message, f"{prefix}{e.pointer}", e.source) for e in exc.errors])


def _unknown(name: str, entity: str, pointer: str) -> ErrorDetail:
    return ErrorDetail(f"{name!r} is not a field of {entity!r}", pointer)


class ScopedReads:
    """Reads of one subject, within their roles' read scope and field security."""

    def __init__(
        self,
        repository: RecordRepository,
        policy: AccessPolicy,
        subject: AccessSubject,
        *,
        now: datetime | None = None,
    ) -> None:
        self._repository = repository  # private: every path below applies the subject's rights
        self.policy = policy
        self.subject = subject
        self.registry = repository.registry
        self.context = subject.criteria_context(now)
        self._checks: dict[tuple[str, str], RecordCheck] = {}

    # --- the subject's rights ----------------------------------------------------------

    def scope(self, entity: str, operation: str) -> AccessScope:
        return self.policy.scope(self.subject, entity, operation)

    def require(self, entity: str, operation: str) -> AccessScope:
        """The scope of `operation`; Forbidden when no role of the subject grants it."""
        scope = self.scope(entity, operation)
        if not scope.allowed:
            raise Forbidden(
                f"your roles do not allow {operation} on {entity!r} records",
                [ErrorDetail(f"no role grants {operation} on {entity!r}", "")],
            )
        return scope

    def field_access(self, entity: str) -> FieldAccess:
        return self.policy.field_access(self.subject, entity)

    def check(self, entity: str, operation: str) -> RecordCheck:
        """Whether a record (normalised values) is inside the scope of `operation`."""
        key = (entity, operation)
        check = self._checks.get(key)
        if check is None:
            check = self.policy.check(self.subject, entity, operation, self.context)
            self._checks[key] = check
        return check

    def condition(self, entity: str, operation: str) -> sa.ColumnElement[bool] | None:
        return self.policy.condition(self.subject, entity, operation,
                                     self._repository.table(entity), self.context)

    def visible(self, entity: str, record: Record) -> Record:
        """The record without the fields hidden from the subject."""
        hidden = self.field_access(entity).hidden
        if not hidden:
            return record
        return {name: value for name, value in record.items() if name not in hidden}

    # --- single records ----------------------------------------------------------------

    def not_found(self, entity: str, record_id: Any) -> NotFound:
        return NotFound(f"{entity} record {record_id} does not exist")

    def get(self, conn: sa.Connection, entity: str, record_id: str) -> Record:
        """The record (hidden fields stripped); NotFound when missing or outside the scope."""
        self.require(entity, "read")
        record = self._repository.get(conn, entity, record_id) if storable_id(record_id) else None
        if record is None or not self.check(entity, "read")(record):
            raise self.not_found(entity, record_id)
        return self.visible(entity, record)

    def readable(self, conn: sa.Connection, entity: str, record_id: Any) -> Record | None:
        """The whole record when it is inside the read scope, else None. Hidden fields are
        kept: this is for the engine's own checks on it (update scope, state locks,
        transition guards), never to be shown as is."""
        if not storable_id(record_id) or not self.scope(entity, "read").allowed:
            return None
        record = self._repository.get(conn, entity, record_id)
        return record if record is not None and self.check(entity, "read")(record) else None

    def load_for(
        self, conn: sa.Connection, entity: str, record_id: str, operation: str
    ) -> Record:
        """The whole record, locked, when it is inside the scope of `operation`.

        NotFound when it is missing or the subject may not read it; Forbidden when they may
        read it but not do `operation` to it.
        """
        self.require(entity, operation)
        if not storable_id(record_id):
            raise self.not_found(entity, record_id)
        record = self._repository.get(conn, entity, record_id, for_update=True)
        if record is None:
            raise self.not_found(entity, record_id)
        if self.check(entity, operation)(record):
            return record
        if self.check(entity, "read")(record):
            raise Forbidden(
                f"your roles do not allow {operation} on this {entity} record",
                [ErrorDetail(f"the record is outside your {operation} scope", "")],
            )
        raise self.not_found(entity, record_id)

    def history(self, conn: sa.Connection, entity: str, record_id: str) -> list[AuditEntry]:
        """The record's audit trail, newest first, without hidden fields.

        A deleted record's trail is shown to subjects whose read scope covers every record
        (no check on its former values is possible); others get NotFound.
        """
        self.require_trail(conn, entity, record_id)
        return self.shown_entries(entity, audit.entries_for(conn, entity, record_id))

    def audit_events(
        self, conn: sa.Connection, entity: str, record_id: str, *,
        before: tuple[datetime, str] | None = None, limit: int = 50,
    ) -> list[AuditEvent]:
        """One page of the record's changes (the timeline's), newest first, as `history`
        shows them: hidden fields left out — a change of hidden fields only keeps no entries
        (it still counts towards `limit`, so the caller can tell whether more follow)."""
        self.require_trail(conn, entity, record_id)
        events = audit.events_before(conn, entity, record_id, before=before, limit=limit)
        return [AuditEvent(event.at, event.key,
                           tuple(self.shown_entries(entity, list(event.entries))))
                for event in events]

    def require_trail(self, conn: sa.Connection, entity: str, record_id: str) -> None:
        """NotFound unless the subject may read the record's trail (see `history`)."""
        scope = self.require(entity, "read")
        if not storable_id(record_id):
            raise self.not_found(entity, record_id)
        record = self._repository.get(conn, entity, record_id)
        if record is None:
            if not (scope.unrestricted and audit.was_deleted(conn, entity, record_id)):
                raise self.not_found(entity, record_id)
        elif not self.check(entity, "read")(record):
            raise self.not_found(entity, record_id)

    def merged_history(self, conn: sa.Connection, entity: str, record_id: str,
                       merged: Sequence[str]) -> list[AuditEntry]:
        """The audit trails of the records merged into a record (`merged`: their ids, from
        the merge ledger), shown with the survivor's own to whoever may read the survivor
        (NotFound otherwise): their values live on in it. Newest first, hidden fields out."""
        self.get(conn, entity, record_id)  # the survivor's read check
        entries = [e for merged_id in merged if storable_id(merged_id)
                   for e in audit.entries_for(conn, entity, merged_id)]
        entries.sort(key=lambda e: e.at, reverse=True)  # stable: a change's rows keep order
        return self.shown_entries(entity, entries)

    def shown_entries(self, entity: str, entries: list[AuditEntry]) -> list[AuditEntry]:
        """`entries` without those of fields hidden from the subject."""
        if self.policy.is_admin(self.subject):
            return entries
        hidden = self.field_access(entity).hidden
        shown = set(self.policy.entity(entity).field_names) - hidden
        return [e for e in entries if e.field is None or e.field == "owner" or e.field in shown]

    # --- lists ---------------------------------------------------------------------------

    def page(
        self,
        conn: sa.Connection,
        entity: str,
        *,
        criteria: Any = None,
        q: Any = None,
        sort: Sequence[str] = (),
        limit: int = 50,
        cursor: str | None = None,
        fields: Sequence[str] | None = None,
    ) -> Page:
        """One page of the records in the read scope matching `criteria` and search `q`."""
        wanted, where = self._prepare(entity, criteria, q, sort, fields)
        return self._repository.query(conn, entity, sort=sort, limit=limit, cursor=cursor,
                                     fields=wanted, where=where)

    def page_with_count(
        self,
        conn: sa.Connection,
        entity: str,
        *,
        criteria: Any = None,
        q: Any = None,
        sort: Sequence[str] = (),
        limit: int = 50,
        cursor: str | None = None,
        fields: Sequence[str] | None = None,
    ) -> tuple[Page, RecordCount]:
        """`page` and `count` of the same query, its conditions compiled once."""
        wanted, where = self._prepare(entity, criteria, q, sort, fields)
        return self._repository.page_and_count(conn, entity, sort=sort, limit=limit,
                                              cursor=cursor, fields=wanted, where=where)

    def _prepare(
        self, entity: str, criteria: Any, q: Any, sort: Sequence[str],
        fields: Sequence[str] | None,
    ) -> tuple[list[str] | None, sa.ColumnElement[bool] | None]:
        """The fields to select and the WHERE condition of a list query."""
        self.require(entity, "read")
        self._refuse_hidden_sort(entity, sort, self.field_access(entity))
        return self.visible_fields(entity, fields), self.read_condition(entity, criteria, q)

    def count(
        self, conn: sa.Connection, entity: str, *, criteria: Any = None, q: Any = None
    ) -> RecordCount:
        """How many records of the read scope match (exact up to 1,000, then estimated)."""
        self.require(entity, "read")
        return self._repository.count(conn, entity,
                                     where=self.read_condition(entity, criteria, q))

    def fetch(
        self, conn: sa.Connection, entity: str, ids: Iterable[Any], *,
        fields: Sequence[str] | None = None,
    ) -> dict[str, Record]:
        """The records with these ids that the subject may read (others are simply absent),
        hidden fields stripped: one query per 500 ids."""
        if not self.scope(entity, "read").allowed:
            return {}
        wanted = sorted({i for i in ids if storable_id(i)})
        found: dict[str, Record] = {}
        columns = self.visible_fields(entity, fields)
        scope = self.condition(entity, "read")
        table = self._repository.table(entity)
        for part in chunks(wanted):
            where: sa.ColumnElement[bool] = table.c.id.in_(list(part))
            if scope is not None:
                where = sa.and_(where, scope)
            page = self._repository.query(conn, entity, where=where, limit=len(part),
                                         fields=columns)
            found.update((record["id"], record) for record in page.records)
        return found

    def visible_fields(self, entity: str, fields: Sequence[str] | None) -> list[str] | None:
        """The fields to select: the requested ones (hidden ones refused as unknown), or
        every visible field (None: all fields, nothing is hidden)."""
        hidden = self.field_access(entity).hidden
        if fields is None:
            if not hidden:
                return None
            return [n for n in self.policy.entity(entity).field_names if n not in hidden]
        if isinstance(fields, str) or not isinstance(fields, Sequence):
            return fields  # type: ignore[return-value]  # the repository reports the shape
        errors = [_unknown(name, entity, f"/fields/{i}")
                  for i, name in enumerate(fields) if isinstance(name, str) and name in hidden]
        if errors:
            raise ValidationFailed("invalid fields", errors)
        return list(fields)

    def _refuse_hidden_sort(self, entity: str, sort: Any, access: FieldAccess) -> None:
        if not access.hidden or isinstance(sort, str) or not isinstance(sort, Sequence):
            return
        errors = [
            _unknown(item.lstrip("+-"), entity, f"/sort/{i}")
            for i, item in enumerate(sort)
            if isinstance(item, str) and item.lstrip("+-") in access.hidden
        ]
        if errors:
            raise ValidationFailed("invalid sort", errors)

    def read_condition(
        self, entity: str, criteria: Any, q: Any
    ) -> sa.ColumnElement[bool] | None:
        """Read scope AND the subject's criteria AND the text search, as one condition."""
        parts = [
            part for part in (
                self.condition(entity, "read"),
                None if criteria is None else self.criteria_condition(entity, criteria),
                self.search_condition(entity, q),
            ) if part is not None
        ]
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else sa.and_(*parts)

    def criteria_condition(self, entity: str, criteria: Any) -> sa.ColumnElement[bool]:
        """The subject's criteria tree, checked against the fields they may see."""
        visible = self.policy.visible_entity(self.subject, entity)
        try:
            return compile_sql(criteria, visible, self._repository.table(entity),
                               self.registry, self.context)
        except ValidationFailed as exc:
            raise _prefixed(exc, "/criteria") from exc

    def search(self, conn: sa.Connection, entity: str, text: str, *, limit: int,
               fields: Sequence[str] | None = None) -> SearchResult:
        """The best records of the read scope for a full-text search (`scoped_search`)."""
        return search_records(self._repository, self, conn, entity, text, limit=limit,
                              fields=fields)

    def search_field_names(self, entity: str) -> list[str]:
        """The search fields the subject's quick search looks in: the entity's
        `search_fields` they may see that take `contains` (empty: no quick search)."""
        visible = self.policy.visible_entity(self.subject, entity)
        return [
            name for name in visible.search_fields
            if (fdef := visible.field(name)) is not None and fdef.type != "multi_picklist"
            and "contains" in (fdef.operators or self.registry.operators(fdef.type))
        ]

    def search_condition(self, entity: str, q: Any) -> sa.ColumnElement[bool] | None:
        """`q` as an OR of `contains` over the entity's visible search fields."""
        if q is None:
            return None
        if not isinstance(q, str) or len(q) > MAX_SEARCH_LENGTH or "\x00" in q:
            raise ValidationFailed("invalid search", [ErrorDetail(
                f"must be text of at most {MAX_SEARCH_LENGTH} characters, without NUL",
                "/q")])
        if not q.strip():
            return None
        visible = self.policy.visible_entity(self.subject, entity)
        names = self.search_field_names(entity)
        if not names:
            raise ValidationFailed("no search", [ErrorDetail(
                f"{entity!r} has no fields to search; filter instead", "/q")])
        tree = {"or": [{"field": name, "op": "contains", "value": q.strip()}
                       for name in names]}
        try:
            return compile_sql(tree, visible, self._repository.table(entity), self.registry,
                               self.context)
        except ValidationFailed as exc:  # pragma: no cover - contains takes any text
            raise ValidationFailed("invalid search", [ErrorDetail(exc.message, "/q")]) from exc
