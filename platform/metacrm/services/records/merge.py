"""Merging 2–10 records of one entity into one, and undoing it within 30 days.

A merge, in ONE transaction: the caller must be able to update every record and delete the
merged ones (their scopes decide, as for any write); every reference to a merged record —
reference fields of any entity, `regarding` links of tasks and activities — is re-pointed to
the survivor (`SystemRecords.repoint`: engine work, references the caller cannot see
included, so none dangles); the merged rows leave the table but are kept as stored in the
merge ledger (`metacrm_record_merges`), and their history stays in the audit trail; the
survivor takes the chosen values (an ordinary update: validated, audited field by field,
duplicate rules and triggers run); one `merged` audit entry on the survivor names the merged
ids, and one `record.merged` event is published with it.

Undo, within `UNDO_DAYS`: the survivor's fields the merge changed get their old values,
the merged rows come back as they were, the references re-pointed by the merge (and still
naming the survivor) name their old records again; one `unmerged` audit entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from metacrm.access.subject import AccessSubject
from metacrm.kernel.errors import Conflict, ErrorDetail, NotFound, ValidationFailed
from metacrm.kernel.ids import new_id
from metacrm.services.records.service import DUPLICATES, RecordsService
from metacrm.storage import audit, outbox, record_merges
from metacrm.storage.audit import AuditEntry

MIN_RECORDS, MAX_RECORDS = 2, 10
UNDO_DAYS = 30
BODY_KEYS = frozenset({"ids", "survivor", "values"})


@dataclass(frozen=True, slots=True)
class MergeRequest:
    ids: tuple[str, ...]
    survivor: str
    values: Mapping[str, Any]

    @property
    def merged(self) -> tuple[str, ...]:
        return tuple(i for i in self.ids if i != self.survivor)


def parse_merge(body: Any) -> MergeRequest:
    """`{"ids": [2..10 ids], "survivor": one of them, "values": {field: value}?}`."""
    if not isinstance(body, Mapping):
        raise ValidationFailed("invalid merge", [ErrorDetail(
            'must be {"ids": [...], "survivor": "<id>", "values": {...}}', "")])
    errors = [ErrorDetail(f"unknown member {key!r}", f"/{key}")
              for key in body if key not in BODY_KEYS]
    ids = body.get("ids")
    if not isinstance(ids, list) or not all(isinstance(i, str) and i for i in ids) or \
            not MIN_RECORDS <= len(set(ids)) <= MAX_RECORDS or len(set(ids)) != len(ids):
        errors.append(ErrorDetail(
            f"must be a list of {MIN_RECORDS} to {MAX_RECORDS} different record ids", "/ids"))
    survivor = body.get("survivor")
    if not isinstance(survivor, str) or not isinstance(ids, list) or survivor not in ids:
        errors.append(ErrorDetail("must be one of ids", "/survivor"))
    values = body.get("values", {})
    if not isinstance(values, Mapping):
        errors.append(ErrorDetail("must be an object of field values", "/values"))
    if errors or not isinstance(ids, list) or not isinstance(values, Mapping):
        raise ValidationFailed("invalid merge", errors)
    return MergeRequest(tuple(ids), str(survivor), dict(values))


class MergeService:
    """Preview, merge and undo (module docstring)."""

    def __init__(self, records: RecordsService) -> None:
        self.records = records

    def preview(self, subject: AccessSubject, entity: str, ids: Any) -> dict[str, Any]:
        """The records side by side as the caller may read them (404 for one they may
        not), the visible fields, those whose values differ, and a suggested survivor (the
        first id). References to re-point are not counted here: the count would include
        records the caller cannot see."""
        if not isinstance(ids, list) or not MIN_RECORDS <= len(set(ids)) <= MAX_RECORDS or \
                not all(isinstance(i, str) for i in ids):
            raise ValidationFailed("invalid merge preview", [ErrorDetail(
                f"must be a list of {MIN_RECORDS} to {MAX_RECORDS} record ids", "/ids")])
        records = [self.records.get(subject, entity, record_id) for record_id in ids]
        visible = self.records.visible_entity(subject, entity)
        differing = [f.name for f in visible.fields
                     if len({repr(r.get(f.name)) for r in records}) > 1]
        return {"records": records, "fields": list(visible.field_names),
                "differing": differing, "survivor": records[0]["id"]}

    def merge(self, subject: AccessSubject, entity: str, body: Any) -> dict[str, Any]:
        """Merge as `body` says (`parse_merge`); the merge id, the survivor as stored and
        the merged ids."""
        request = parse_merge(body)
        runtime = self.records.runtime()
        scoped = runtime.scoped(subject)
        merge_id = new_id()
        with self.records.transaction() as conn:
            before = scoped.load_for(conn, entity, request.survivor, "update")
            for record_id in request.merged:
                scoped.load_for(conn, entity, record_id, "update")
                scoped.load_for(conn, entity, record_id, "delete")
            now = self.records.now()
            rows = runtime.system.snapshot(conn, entity, request.merged)
            changes = runtime.system.repoint(conn, entity, request.merged, request.survivor,
                                             now)
            runtime.system.remove(conn, entity, request.merged)
            survivor = self.records.update_in(conn, subject, entity, request.survivor,
                                              request.values)
            survivor.pop(DUPLICATES, None)
            changed = [name for name in request.values
                       if before.get(name) != survivor.get(name)]
            old_values = runtime.json.record(entity, before)
            ledger = {"rows": rows, "references": changes,
                      "before": {name: old_values.get(name) for name in changed}}
            record_merges.write_merge(conn, merge_id=merge_id, entity=entity,
                                      survivor=request.survivor, merged=request.merged,
                                      ledger=ledger, actor=subject.user_id, at=now)
            self._record(conn, entity, survivor, subject.user_id, "merged",
                         {"merge": merge_id, "merged": list(request.merged)})
        return {"merge": merge_id, "record": survivor, "merged": list(request.merged),
                "references": len(changes)}

    def undo(self, subject: AccessSubject, entity: str, merge_id: str) -> dict[str, Any]:
        """Undo merge `merge_id` of `entity` (404 when there is none the caller may
        update the survivor of; 409 when undone already or older than UNDO_DAYS)."""
        runtime = self.records.runtime()
        scoped = runtime.scoped(subject)
        with self.records.transaction() as conn:
            merge = record_merges.read_merge(conn, merge_id, for_update=True)
            if merge is None or merge["entity"] != entity:
                raise NotFound(f"there is no merge {merge_id} of {entity} records")
            scoped.load_for(conn, entity, str(merge["survivor"]), "update")
            now = self.records.now()
            if merge["undone_at"] is not None:
                raise Conflict("the merge was undone already",
                               [ErrorDetail("undone already", "")])
            if now - merge["created_at"] > timedelta(days=UNDO_DAYS):
                raise Conflict(f"a merge can be undone for {UNDO_DAYS} days",
                               [ErrorDetail(f"older than {UNDO_DAYS} days", "")])
            ledger = merge["ledger"]
            survivor_id = str(merge["survivor"])
            if ledger["before"]:
                self.records.update_in(conn, subject, entity, survivor_id, ledger["before"])
            runtime.system.restore(conn, entity, ledger["rows"])
            runtime.system.unrepoint(conn, ledger["references"], survivor_id, now)
            record_merges.mark_undone(conn, merge_id, subject.user_id, now)
            survivor = runtime.json.record(entity, scoped.visible(
                entity, scoped.load_for(conn, entity, survivor_id, "read")))
            self._record(conn, entity, survivor, subject.user_id, "unmerged",
                         {"merge": merge_id, "merged": list(merge["merged"])})
        return {"merge": merge_id, "record": survivor, "restored": list(merge["merged"])}

    def _record(self, conn: sa.Connection, entity: str, survivor: Mapping[str, Any],
                actor: str | None, action: str, detail: Mapping[str, Any]) -> None:
        """One audit entry on the survivor and, for a merge, one `record.merged` event."""
        at = self.records.now()
        event_id = None
        if action == "merged":
            event = outbox.record_event(outbox.RECORD_MERGED, entity, survivor, actor=actor,
                                        occurred_at=at)
            event = replace(event, payload={**event.payload, **detail})
            outbox.append(conn, [event])
            event_id = event.id
        audit.write_entries(conn, [AuditEntry(entity, str(survivor["id"]), action, None,
                                              None, dict(detail), actor, at, event_id)])

    def undoable(self, subject: AccessSubject, entity: str, record_id: str
                 ) -> list[dict[str, Any]]:
        """The merges into a record the subject may read that can still be undone
        (`{"merge", "merged", "created_at"}`, oldest first); 404 outside the read scope."""
        self.records.get(subject, entity, record_id)
        since = self.records.now() - timedelta(days=UNDO_DAYS)
        with self.records.engine.connect() as conn:
            return [merge for merge in record_merges.merges_into(conn, entity, record_id)
                    if merge["created_at"] >= since]

