"""The record repository as one subject may use it: scope and field security on every path.

Every read and write of records made on behalf of a user goes through a `ScopedRepository`
(built per request from the cached `AccessPolicy` and the subject) — see access/README.md.

Reads (`ScopedReads`): the read scope is ANDed into the SQL of lists, counts and includes;
single-record reads check the record against the scope; hidden fields are stripped.
Exports, grouped sums and equality matches (`ScopedQueries`) and report aggregates
(`ScopedAggregates`) do the same for the services
that need more than a page.

The raw repository is private (`_repository`): nothing outside `access/` reaches it except
as the system, through `SystemRecords` (system_records.py).

Writes (here):
* create: the create scope must exist (else Forbidden); hidden or read-only fields are
  refused (403 at the field); the owner is the subject unless they say otherwise, which a
  subject holding only `own` grants may not; the stored record must fall inside the create
  scope (else Forbidden, and the caller's transaction rolls back);
* update: the record must be inside the update scope (NotFound when the subject cannot
  read it, Forbidden when they can); hidden fields are refused even when unchanged (no
  value oracle), read-only ones when changed; the result must stay inside the update scope;
* delete: the record must be inside the delete scope (same answers as update); the records
  its references' `on_delete` rules delete or change come back too (`Deletion`), for the
  audit trail;
* references written must point at records the subject may read (otherwise answered
  exactly as a reference to a missing record).

Writes return whole records (hidden fields included) for the audit trail and the outbox;
whatever reaches the subject goes through `visible()`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from metacrm.access.delete_effects import DeleteEffects, Deletion
from metacrm.access.scoped_aggregates import ScopedAggregates
from metacrm.fieldtypes.regarding import RecordLink
from metacrm.kernel.errors import ErrorDetail, Forbidden, ValidationFailed
from metacrm.metadata.model import EntityDef
from metacrm.storage.record_codec import NORMALIZE_ERRORS, Record

# Re-exported: services mark "no owner given" without importing the raw repository's module.
from metacrm.storage.repository import KEEP as KEEP
from metacrm.storage.repository import Unchanged as Unchanged
from metacrm.storage.tables import USER_ID_LENGTH

Guard = Callable[[Record, dict[str, Any]], None]
"""Checks planned changes against the current record (raises to refuse them)."""

BeforeSave = Callable[[Record | None, Mapping[str, Any]], Mapping[str, Any]]
"""Called with the stored record (None on create) and the values about to be written, after
the subject's rights were checked; returns values to add, written with engine rights (they
may fill read-only fields), or raises to refuse the save (`services.records.save_hooks`)."""

Pointer = Callable[[int, str], str]

OWNER = "owner"


def _owner_value(value: Any, pointer: str, *, nullable: bool) -> str | None:
    if value is None and nullable:
        return None
    if (not isinstance(value, str) or not value.strip() or len(value) > USER_ID_LENGTH
            or "\x00" in value):
        raise ValidationFailed("invalid owner", [ErrorDetail(
            f"must be a user id of 1 to {USER_ID_LENGTH} characters", pointer)])
    return value.strip()


def _refuse_read_only(entity: EntityDef, values: Mapping[str, Any], pointer: Pointer,
                      index: int) -> None:
    """The caller's own values may not write read-only fields, even when the save is
    written with engine rights because an interceptor added values."""
    errors = [ErrorDetail("is read-only", pointer(index, key)) for key in values
              if (fdef := entity.field(key)) is not None and fdef.read_only]
    if errors:
        raise ValidationFailed(f"invalid {entity.name} record", errors)


def _single(_index: int, name: str) -> str:
    return f"/{name}"


def _many(index: int, name: str) -> str:
    return f"/{index}/{name}"


class ScopedRepository(ScopedAggregates):
    """Reads and writes of one subject, within their roles' scopes and field security."""

    # --- create --------------------------------------------------------------------------

    def insert(
        self, conn: sa.Connection, entity: str, values: Mapping[str, Any],
        *, owner: str | Unchanged = KEEP, engine_values: Mapping[str, Any] | None = None,
        before_save: BeforeSave | None = None,
    ) -> Record:
        """Create one record (`owner` KEEP: the subject owns it); returns it whole.

        `engine_values` are values the engine sets where `values` gives none (a pipeline's
        initial state); field security does not apply to them, nor to what `before_save`
        adds.
        """
        return self._insert(conn, entity, [values], [owner], [engine_values or {}],
                            _single, before_save)[0]

    def insert_many(
        self, conn: sa.Connection, entity: str, rows: Sequence[Mapping[str, Any]],
        *, owners: Sequence[str | Unchanged] | None = None,
        engine_values: Sequence[Mapping[str, Any]] | None = None,
        before_save: BeforeSave | None = None,
        bulk_copy: bool = False,
    ) -> list[Record]:
        """Create many records, all or nothing; pointers `/<index>/<field>`. `bulk_copy`:
        the repository's set-based write (PostgreSQL; the same checks)."""
        if isinstance(rows, Mapping | str) or not isinstance(rows, Sequence):
            raise ValidationFailed(f"invalid {entity} records",
                                   [ErrorDetail("must be a list of records", "")])
        return self._insert(conn, entity, rows, owners or [KEEP] * len(rows),
                            engine_values or [{}] * len(rows), _many, before_save, bulk_copy)

    def _insert(
        self, conn: sa.Connection, entity: str, rows: Sequence[Mapping[str, Any]],
        owners: Sequence[str | Unchanged], engine_values: Sequence[Mapping[str, Any]],
        pointer: Pointer, before_save: BeforeSave | None = None, bulk_copy: bool = False,
    ) -> list[Record]:
        scope = self.require(entity, "create")
        access = self.field_access(entity)
        definition = self.policy.entity(entity)
        resolved = [
            self.subject.user_id if owner is KEEP
            else _owner_value(owner, pointer(index, OWNER), nullable=False)
            for index, owner in enumerate(owners)
        ]
        errors: list[ErrorDetail] = []
        for index, values in enumerate(rows):
            if isinstance(values, Mapping):
                errors.extend(
                    ErrorDetail("may not be set by your roles", pointer(index, key))
                    for key in values
                    if definition.has_field(key) and access.refused(key, "create")
                )
            if scope.only_own and resolved[index] != self.subject.user_id:
                errors.append(ErrorDetail("your roles only let you create records you own",
                                          pointer(index, OWNER)))
        if errors:
            raise Forbidden(f"your roles do not allow these {entity} values", errors)
        rows = [
            {**values, **{k: v for k, v in extra.items() if values.get(k) is None}}
            if extra and isinstance(values, Mapping) else values
            for values, extra in zip(rows, engine_values, strict=True)
        ]
        trusted = False
        if before_save is not None:
            rows, trusted = self._intercepted(definition, rows, before_save, pointer)
        actor = self.subject.user_id
        if pointer is _single:
            records = [self._repository.insert(conn, entity, rows[0], actor=actor,
                                               owner=resolved[0], trusted=trusted)]
        else:
            records = self._repository.insert_many(conn, entity, rows, actor=actor,
                                                   owners=resolved, trusted=trusted,
                                                   bulk_copy=bulk_copy)
        inside = self.check(entity, "create")
        outside = [
            ErrorDetail("the record would be outside what your roles may create",
                        pointer(index, "").rstrip("/"))
            for index, record in enumerate(records) if not inside(record)
        ]
        if outside:
            raise Forbidden(f"your roles do not allow creating this {entity} record", outside)
        self._check_references(conn, definition, records, None, pointer)
        return records

    # --- update --------------------------------------------------------------------------

    def update(
        self,
        conn: sa.Connection,
        entity: str,
        record_id: str,
        changes: Mapping[str, Any],
        *,
        expected_version: int | None = None,
        guard: Guard | None = None,
        before_save: BeforeSave | None = None,
    ) -> tuple[Record, Record]:
        """Change a record inside the update scope; returns (before, after), both whole.

        `owner` among the changes reassigns the record. Values equal to the stored ones are
        not written; when nothing changes, nothing is written and before == after.
        """
        if not isinstance(changes, Mapping):
            raise ValidationFailed("invalid changes",
                                   [ErrorDetail("must be an object of field values", "")])
        current = self.load_for(conn, entity, record_id, "update")
        definition = self.policy.entity(entity)
        access = self.field_access(entity)
        planned = dict(changes)
        owner: str | Unchanged | None = KEEP
        if OWNER in planned:
            owner = _owner_value(planned.pop(OWNER), f"/{OWNER}", nullable=True)
            if owner == current[OWNER]:
                owner = KEEP
        hidden = [ErrorDetail("may not be changed by your roles", f"/{key}")
                  for key in planned if key in access.hidden and definition.has_field(key)]
        if hidden:
            raise Forbidden(f"your roles do not allow these {entity} changes", hidden)
        planned = self._without_unchanged(definition, current, planned)
        locked = [ErrorDetail("may not be changed by your roles", f"/{key}")
                  for key in planned if definition.has_field(key)
                  and access.refused(key, "update")]
        if locked:
            raise Forbidden(f"your roles do not allow these {entity} changes", locked)
        if guard is not None:
            guard(current, planned)
        trusted = False
        if before_save is not None:
            added = self._without_unchanged(definition, current,
                                            dict(before_save(current, planned)))
            if added:
                _refuse_read_only(definition, planned, _single, 0)
                planned = {**planned, **added}
                trusted = True
        after = self._repository.update(
            conn, entity, record_id, planned, expected_version=expected_version,
            actor=self.subject.user_id, owner=owner, trusted=trusted,
        )
        if after["version"] == current["version"]:
            return current, after
        if not self.check(entity, "update")(after):
            raise Forbidden(
                f"your roles do not allow this change of the {entity} record",
                [ErrorDetail("the change would put the record outside your update scope",
                             "")],
            )
        self._check_references(conn, definition, [after], set(planned), _single)
        return current, after

    def _intercepted(
        self, definition: EntityDef, rows: Sequence[Mapping[str, Any]],
        before_save: BeforeSave, pointer: Pointer,
    ) -> tuple[list[Mapping[str, Any]], bool]:
        """The rows with what `before_save` adds; True when anything was added (the write
        then has engine rights, so the caller's own values are checked for read-only
        fields here, as the repository would have)."""
        result: list[Mapping[str, Any]] = []
        added_any = False
        for values in rows:
            if not isinstance(values, Mapping):
                result.append(values)
                continue
            added = before_save(None, values)
            added_any = added_any or bool(added)
            result.append({**values, **added} if added else values)
        if added_any:
            for index, values in enumerate(rows):
                if isinstance(values, Mapping):
                    _refuse_read_only(definition, values, pointer, index)
        return result, added_any

    def changed_values(
        self, entity: str, current: Record, changes: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The `changes` that would change `current` (the owner included): an import skips
        the update of a record its row would leave as it is."""
        kept = self._without_unchanged(self.policy.entity(entity), current,
                                       {k: v for k, v in changes.items() if k != OWNER})
        if OWNER in changes and changes[OWNER] != current.get(OWNER):
            kept[OWNER] = changes[OWNER]
        return kept

    def _without_unchanged(
        self, entity: EntityDef, current: Record, changes: dict[str, Any]
    ) -> dict[str, Any]:
        """The changes whose value differs from the stored one (compared in JSON form, so
        a money currency or a datetime's microseconds count); invalid values are kept for
        the repository to report."""
        kept: dict[str, Any] = {}
        for key, raw in changes.items():
            fdef = entity.field(key)
            if fdef is None or key not in current:
                kept[key] = raw
                continue
            field_type = self.registry.get(fdef.type)
            old = current[key]
            try:
                new = None if raw is None else field_type.normalize(fdef, raw)
            except NORMALIZE_ERRORS:
                kept[key] = raw
                continue
            if (new is None) != (old is None) or (
                new is not None and field_type.to_json(fdef, new) != field_type.to_json(fdef, old)
            ):
                kept[key] = raw
        return kept

    # --- delete --------------------------------------------------------------------------

    def delete(
        self, conn: sa.Connection, entity: str, record_id: str,
        *, expected_version: int | None = None,
    ) -> Deletion:
        """Delete a record inside the delete scope; returns its final values (whole) and
        the records its references' `on_delete` rules deleted or changed."""
        current = self.load_for(conn, entity, record_id, "delete")
        return DeleteEffects(self._repository).delete(
            conn, entity, current, expected_version=expected_version,
            actor=self.subject.user_id)

    # --- references ----------------------------------------------------------------------

    def _unreadable_links(
        self, conn: sa.Connection, entity: EntityDef, records: Sequence[Record],
        changed: set[str] | None, pointer: Pointer,
    ) -> list[ErrorDetail]:
        """Regarding links written must name records the subject may read (one query per
        linked entity); an unreadable record is reported like a missing one."""
        errors: list[ErrorDetail] = []
        for fdef in entity.fields:
            if fdef.type != "regarding" or (changed is not None and fdef.name not in changed):
                continue
            links = [(index, link) for index, record in enumerate(records)
                     if isinstance(link := record.get(fdef.name), RecordLink)]
            readable: dict[str, set[str]] = {}
            for target in {link.entity for _i, link in links}:
                if self.scope(target, "read").unrestricted:
                    readable[target] = {link.id for _i, link in links if link.entity == target}
                else:
                    readable[target] = set(self.fetch(
                        conn, target, {link.id for _i, link in links if link.entity == target},
                        fields=[]))
            errors.extend(
                ErrorDetail(f"refers to a {link.entity!r} record that does not exist",
                            pointer(index, fdef.name))
                for index, link in links if link.id not in readable[link.entity])
        return errors

    def _check_references(
        self,
        conn: sa.Connection,
        entity: EntityDef,
        records: Sequence[Record],
        changed: set[str] | None,
        pointer: Pointer,
    ) -> None:
        """References written must name records the subject may read."""
        errors: list[ErrorDetail] = self._unreadable_links(conn, entity, records, changed,
                                                           pointer)
        for fdef in entity.fields:
            target = fdef.target_entity
            if fdef.type != "reference" or target is None:
                continue
            if changed is not None and fdef.name not in changed:
                continue
            if self.scope(target, "read").unrestricted:
                continue
            ids = {r[fdef.name] for r in records if r.get(fdef.name) is not None}
            if not ids:
                continue
            readable = self.fetch(conn, target, ids, fields=[])
            errors.extend(
                ErrorDetail(f"refers to a {target!r} record that does not exist",
                            pointer(index, fdef.name))
                for index, record in enumerate(records)
                if record.get(fdef.name) is not None and record[fdef.name] not in readable
            )
        if errors:
            raise ValidationFailed(f"invalid {entity.name} record", errors)
