"""A mailing's content is fixed once it has started sending (`SaveInterceptors`).

Recipients who already got the message got THIS subject, text, sender and audience: a
change half-way through would make the mailing's record lie about what was sent, give the
rest of the list another message (and links the click route does not know: the tracked
links are recorded when the mailing is scheduled), or move the list people unsubscribe
from. So from the moment a mailing starts (`started_at` set: sending, sent, or paused or
cancelled after it started) every save that changes one of `CONTENT_FIELDS` is refused
with a 409 pointing at the field; values sent unchanged (a whole record PUT back) pass.
The record form shows these fields as text then (`locked_fields`); a new message is a new
mailing.

Status changes and counters are written by the engine (`system.update`), which does not
run save interceptors, so the sender is not stopped by this.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from metacrm.access.scoped_repository import BeforeSave
from metacrm.access.subject import AccessSubject
from metacrm.fieldtypes.base import FieldValueError
from metacrm.kernel.errors import Conflict, ErrorDetail
from metacrm.marketing.mailings.ledger import MAILING
from metacrm.services.records.save_hooks import SaveInterceptors, chained
from metacrm.services.records.service import RecordsService
from metacrm.storage.record_codec import Record

CONTENT_FIELDS = (
    "segment", "mailbox", "subject", "subject_b", "body", "template", "track_opens",
    "track_clicks", "ab_sample_percent", "ab_metric", "ab_wait_hours",
)
"""What was sent: the audience (and the list unsubscribes name), the sender, the text and
how it is tracked and split."""
STARTED = ("sending", "sent")


def content_locked(mailing: Mapping[str, Any]) -> bool:
    """True once the mailing has started sending (see the module docstring)."""
    return mailing.get("status") in STARTED or mailing.get("started_at") is not None


def locked_fields(entity: str, record: Mapping[str, Any]) -> frozenset[str]:
    """The fields of `record` no save may change now (for forms to show as text)."""
    if entity != MAILING or not content_locked(record):
        return frozenset()
    return frozenset(CONTENT_FIELDS)


class MailingContentLock:
    """`SaveInterceptors` refusing content changes of a started mailing, then running
    `after` (the hooks installed before it)."""

    def __init__(self, records: RecordsService, after: SaveInterceptors) -> None:
        self._records = records
        self._after = after

    def hook(self, conn: sa.Connection, subject: AccessSubject, entity: str
             ) -> BeforeSave | None:
        later = self._after.hook(conn, subject, entity)
        if entity != MAILING:
            return later
        definition = self._records.runtime().model.entity(MAILING)
        if definition is None:
            return later
        registry = self._records.registry

        def changes(current: Record, name: str, value: Any) -> bool:
            fdef = definition.field(name)
            if fdef is None:
                return False
            try:
                planned = None if value is None else registry.get(fdef.type).normalize(
                    fdef, value)
            except (FieldValueError, ValueError, TypeError, ArithmeticError):
                return True
            return bool(planned != current.get(name))

        def before_save(current: Record | None, planned: Mapping[str, Any]
                        ) -> Mapping[str, Any]:
            if current is None or not content_locked(current):
                return {}
            changed = [name for name in CONTENT_FIELDS
                       if name in planned and changes(current, name, planned[name])]
            if changed:
                status = current.get("status")
                raise Conflict(
                    f"the mailing is {status}: its content cannot be changed once it has "
                    "started sending (make a new mailing for a new message)",
                    [ErrorDetail(f"cannot be changed: the mailing is {status}", f"/{name}")
                     for name in changed])
            return {}

        return chained(before_save, later)
