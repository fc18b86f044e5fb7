"""Revert an import within `REVERT_DAYS`: the values it replaced are restored, then the
records it created (referenced records last) are deleted — as the caller, in one
transaction, audited and published like any change. Records deleted since are skipped; a
refused delete (a `restrict` reference, no delete right) refuses the whole revert."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from metacrm.access.subject import AccessSubject
from metacrm.imports import ledger
from metacrm.imports.status import REVERT_DAYS
from metacrm.kernel.errors import Conflict, ErrorDetail, NotFound
from metacrm.services.records.service import RecordsService


def revert_import(records: RecordsService, subject: AccessSubject,
                  stored: ledger.StoredImport, now: datetime) -> None:
    dry = bool(stored.options.get("dry_run"))
    if stored.status not in (ledger.COMPLETED, ledger.FAILED) or dry:
        raise Conflict("only a completed or failed import can be reverted", [ErrorDetail(
            f"the import is {'a dry run' if dry else stored.status}", "/status")])
    if stored.finished_at is not None and now - stored.finished_at > timedelta(
            days=REVERT_DAYS):
        raise Conflict("too late to revert", [ErrorDetail(
            f"imports can be reverted within {REVERT_DAYS} days", "/finished_at")])
    runtime = records.runtime()
    states = runtime.states
    admin = runtime.policy.is_admin(subject)

    def locks_only(current: Mapping[str, Any], _planned: Mapping[str, Any]) -> None:
        states.check_unlocked(stored.entity, current, subject.roles, admin=admin)

    with records.transaction() as conn:
        scoped = runtime.scoped(subject)
        # newest first: a record the file updated twice ends with its value from before
        for row in list(ledger.rows(conn, stored.id, (ledger.UPDATED,), descending=True)):
            if row.record_id is None or not row.previous:
                continue
            try:
                before, after = scoped.update(conn, row.entity, row.record_id,
                                              dict(row.previous), guard=locks_only)
            except NotFound:
                continue  # deleted since: nothing to restore
            runtime.changes.updated(conn, row.entity, [(before, after)], subject.user_id)
        for row in list(ledger.rows(conn, stored.id, (ledger.CREATED,), descending=True)):
            if row.record_id is None:
                continue
            try:
                records.delete_in(conn, subject, row.entity, row.record_id)
            except NotFound:
                continue  # deleted since
        ledger.update(conn, stored.id, status=ledger.REVERTED, reverted_at=now)
