"""The `documents` consumer: renders the PDFs users asked for, in the job queue.

Its items are submitted by `DocumentService.request` (it names no targets for published
events). A render that fails for the template's or the record's sake (a template error, a
render over the time limit, the record gone or out of the requester's sight) is given up at
once with the reason — retrying would fail the same way; anything else is retried.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta

from metacrm.access.subject import AccessSubject
from metacrm.documents import mass_print
from metacrm.documents.service import CONSUMER_NAME, DocumentService
from metacrm.kernel.errors import MetacrmError
from metacrm.kernel.jobs import EventRecord, GiveUp, WorkItem

RETRY_DELAYS = (timedelta(seconds=10), timedelta(minutes=1))


class DocumentConsumer:
    name = CONSUMER_NAME

    def __init__(self, documents: Callable[[], DocumentService],
                 subject_of: Callable[[str], AccessSubject | None]) -> None:
        self._documents = documents
        self._subject_of = subject_of

    def targets(self, event: EventRecord) -> Sequence[str]:
        return ()

    def handle(self, item: WorkItem) -> None:
        event = item.event
        actor = event.payload.get("actor")
        template = event.payload.get("template")
        if not isinstance(actor, str) or not isinstance(template, str):
            raise GiveUp("the request names no template or requester")
        subject = self._subject_of(actor)
        if subject is None:
            raise GiveUp(f"the requester {actor} is no longer an active user")
        try:
            self._documents().generate(subject, event.id, template, event.entity,
                                       event.record_id)
        except MetacrmError as exc:
            raise GiveUp(str(exc)) from None

    def retry_delay(self, item: WorkItem) -> timedelta | None:
        index = item.attempt - 1
        return RETRY_DELAYS[index] if index < len(RETRY_DELAYS) else None


class MassPrintConsumer:
    """The `mass_print` consumer: renders a print job's PDFs into its ZIP, as the
    requester. Per-record failures are the job's result, not the item's; a requester no
    longer active, or a template gone, gives up."""

    name = mass_print.CONSUMER_NAME

    def __init__(self, service: Callable[[], mass_print.MassPrintService],
                 subject_of: Callable[[str], AccessSubject | None]) -> None:
        self._service = service
        self._subject_of = subject_of

    def targets(self, event: EventRecord) -> Sequence[str]:
        return ()

    def handle(self, item: WorkItem) -> None:
        actor = item.event.payload.get("actor")
        if not isinstance(actor, str):
            raise GiveUp("the print job names no requester")
        subject = self._subject_of(actor)
        if subject is None:
            raise GiveUp(f"the requester {actor} is no longer an active user")
        try:
            self._service().generate(subject, item.event.id)
        except MetacrmError as exc:
            raise GiveUp(str(exc)) from None

    def retry_delay(self, item: WorkItem) -> timedelta | None:
        index = item.attempt - 1
        return RETRY_DELAYS[index] if index < len(RETRY_DELAYS) else None
