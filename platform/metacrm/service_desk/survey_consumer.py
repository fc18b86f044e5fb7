"""The `service_desk.surveys` consumer: mails the satisfaction survey when a ticket is
resolved (a `record.transitioned` event into a state named `resolved`), after the commit,
through the job queue with its retries. A ticket without a customer address gets none;
an instance without mail retries, then gives up, as other mail senders do."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta

from metacrm.kernel.jobs import EventRecord, GiveUp, WorkItem
from metacrm.service_desk.clocks import TICKET
from metacrm.service_desk.surveys import Surveys
from metacrm.services.records.service import RecordsService

CONSUMER_NAME = "service_desk.surveys"
RESOLVED = "resolved"
RETRY_DELAYS = (timedelta(seconds=10), timedelta(minutes=1), timedelta(minutes=10))


class SurveyConsumer:
    name = CONSUMER_NAME

    def __init__(self, records: RecordsService, surveys: Callable[[], Surveys]) -> None:
        self._records = records
        self._surveys = surveys

    def targets(self, event: EventRecord) -> Sequence[str]:
        transition = event.payload.get("transition")
        if (event.entity == TICKET and event.type == "record.transitioned"
                and isinstance(transition, dict) and transition.get("to") == RESOLVED):
            return (event.record_id,)
        return ()

    def handle(self, item: WorkItem) -> None:
        runtime = self._records.runtime()
        with self._records.engine.connect() as conn:
            stored = runtime.system.get(conn, TICKET, item.target)
        if stored is None:
            raise GiveUp("the ticket was deleted")
        ticket = runtime.json.record(TICKET, stored)
        if ticket.get("status") != RESOLVED or ticket.get("csat_score") is not None:
            return  # reopened or answered since: no survey
        self._surveys().send(ticket)

    def retry_delay(self, item: WorkItem) -> timedelta | None:
        index = item.attempt - 1
        return RETRY_DELAYS[index] if index < len(RETRY_DELAYS) else None
