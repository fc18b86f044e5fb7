"""An agent's email from a ticket is its first response (`OutboundEmail.on_queued`).

When a message is queued from a ticket whose `first_response_at` is empty, the ticket gets
it — the moment the agent sent, in the same transaction as the message, so the message and
the met first-response milestone are stored together or not at all. The save goes through
the records service as `mail:first_response` (audited; the ticket's save hook reads the
clocks again: the response due time is cleared, the milestone met or breached for good).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import sqlalchemy as sa

from metacrm.access.subject import AccessSubject
from metacrm.service_desk.clocks import TICKET
from metacrm.services.records.service import RecordsService

ACTOR = "mail:first_response"
FIELD = "first_response_at"


class FirstResponse:
    def __init__(self, records: RecordsService, clock: Callable[[], datetime]) -> None:
        self._records = records
        self._clock = clock

    def _subject(self) -> AccessSubject:
        model = self._records.runtime().model
        roles = tuple(sorted(name for name, role in model.roles.items() if role.admin))
        return AccessSubject(user_id=ACTOR, username=ACTOR, roles=roles, is_admin=True)

    def queued(self, conn: sa.Connection, entity: str, record_id: str) -> None:
        """Stamp the ticket's first response unless it has one already."""
        if entity != TICKET:
            return
        runtime = self._records.runtime()
        definition = runtime.model.entity(TICKET)
        if definition is None or not definition.has_field(FIELD):
            return
        ticket = runtime.system.get(conn, TICKET, record_id, for_update=True)
        if ticket is None or ticket.get(FIELD) is not None:
            return
        self._records.update_in(conn, self._subject(), TICKET, record_id,
                                {FIELD: self._clock().astimezone(UTC).isoformat()})
