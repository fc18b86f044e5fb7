"""The duplicate scan as a background job: `DuplicateScans.request` records a scan and
submits a work item (consumer `duplicate_scan`) in one transaction; a worker (or the inline
queue, right after the commit) runs `DuplicateReview.scan` as the user who asked — their
scopes and field security, read again when the job runs — and stores the groups.

A scan's result is shown to the user who asked only (`read`/`latest` check it), and its
record ids are filtered again by what they may read now, so a scope narrowed since the scan
hides the records it no longer covers. The consumer takes no outbox events
(`targets` is empty): scans come only from `request`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from metacrm.access.subject import AccessSubject
from metacrm.kernel.errors import MetacrmError, NotFound
from metacrm.kernel.ids import new_id
from metacrm.kernel.jobs import EventRecord, GiveUp, WorkItem
from metacrm.services.duplicates.review import DuplicateReview
from metacrm.services.records.service import RecordsService
from metacrm.storage import duplicate_scan_store as store

if TYPE_CHECKING:
    from metacrm.composition import Services
    from metacrm.jobs.dispatcher import Dispatcher

CONSUMER_NAME = "duplicate_scan"
FEATURE = "duplicate_scans"
SCAN_LIMIT = 100_000
"""Most groups one scan stores."""


class DuplicateScans:
    """Ask for scans, run them (the consumer), read their results."""

    name = CONSUMER_NAME

    def __init__(self, records: RecordsService, dispatcher: Dispatcher,
                 subject_of: Any) -> None:
        self.records = records
        self.dispatcher = dispatcher
        self.subject_of = subject_of
        """user id -> AccessSubject | None (the identity layer's subject directory)."""

    def request(self, subject: AccessSubject, entity: str) -> dict[str, Any]:
        """Queue a scan of `entity` for `subject` (403 without read rights)."""
        self.records.runtime().scoped(subject).require(entity, "read")
        scan_id = new_id()
        now = self.records.now()
        event = EventRecord(scan_id, "duplicates.scan", entity, scan_id,
                            {"user": subject.user_id}, now)
        with self.records.engine.begin() as conn:
            store.add_scan(conn, scan_id, entity, str(subject.user_id or ""), now)
            self.dispatcher.submit(conn, CONSUMER_NAME, scan_id, event)
        self.dispatcher.kick()
        return self.read(subject, entity, scan_id)

    # --- the consumer ----------------------------------------------------------------

    def targets(self, event: EventRecord) -> Sequence[str]:
        return ()

    def handle(self, item: WorkItem) -> None:
        event = item.event
        subject = self.subject_of(str(event.payload.get("user", "")))
        now = self.records.now()
        if subject is None:
            with self.records.engine.begin() as conn:
                store.finish_scan(conn, event.record_id, groups=None,
                                  error="the user who asked no longer exists", at=now)
            raise GiveUp("the user who asked no longer exists")
        try:
            groups = DuplicateReview(self.records).scan(subject, event.entity,
                                                        limit=SCAN_LIMIT)
        except MetacrmError as refused:
            with self.records.engine.begin() as conn:
                store.finish_scan(conn, event.record_id, groups=None, error=refused.message,
                                  at=self.records.now())
            return
        with self.records.engine.begin() as conn:
            store.finish_scan(conn, event.record_id, groups=[g.to_json() for g in groups],
                              error=None, at=self.records.now())

    def retry_delay(self, item: WorkItem) -> None:
        return None

    # --- results ---------------------------------------------------------------------

    def read(self, subject: AccessSubject, entity: str, scan_id: str) -> dict[str, Any]:
        """A scan the subject asked for (404 otherwise), its groups re-filtered by what
        the subject may read now."""
        with self.records.engine.connect() as conn:
            scan = store.read_scan(conn, scan_id)
        if scan is None or scan["entity"] != entity or scan["requested_by"] != subject.user_id:
            raise NotFound(f"there is no duplicate scan {scan_id} of {entity} records")
        return self._shown(subject, scan)

    def latest(self, subject: AccessSubject, entity: str) -> dict[str, Any] | None:
        with self.records.engine.connect() as conn:
            scan = store.latest_scan(conn, entity, str(subject.user_id or ""))
        return None if scan is None else self._shown(subject, scan)

    def _shown(self, subject: AccessSubject, scan: dict[str, Any]) -> dict[str, Any]:
        groups = scan["groups"] or []
        if groups:
            scoped = self.records.runtime().scoped(subject)
            with self.records.engine.connect() as conn:
                readable = scoped.fetch(conn, scan["entity"],
                                        {i for g in groups for i in g["ids"]}, fields=())
            groups = [{**g, "ids": kept} for g in groups
                      if len(kept := [i for i in g["ids"] if i in readable]) > 1]
        return {"id": scan["id"], "entity": scan["entity"], "status": scan["status"],
                "error": scan["error"], "groups": groups,
                "created_at": scan["created_at"], "finished_at": scan["finished_at"]}


def install(services: Services) -> None:
    """Register the consumer and make the feature available as
    `services.duplicate_scans`."""
    scans = DuplicateScans(services.records, services.dispatcher,
                           services.subjects.subject_of)
    services.consumers.register(scans)
    services.duplicate_scans = scans
