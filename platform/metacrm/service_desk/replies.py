"""The seam the inbound mail handler calls when a customer writes about a ticket
(`services.ticket_replies.received(ticket_id)`).

A reply to a resolved ticket reopens it (`reopen`); a reply to a ticket waiting for the
customer puts it back to work (`start_work`), which restarts its SLA clocks; a reply to a
new or open ticket changes nothing. The moves are made as the subject `mail:inbound`
through the transition service — audited, guarded and triggering like an agent's — and
the saves keep the clocks (`saves`). A closed ticket stays closed: a reply to it is a new
ticket's business (the mail module decides).
"""

from __future__ import annotations

from metacrm.access.subject import AccessSubject
from metacrm.service_desk.clocks import TICKET
from metacrm.services.records.service import RecordsService
from metacrm.services.transitions.service import TransitionService

ACTOR = "mail:inbound"
ON_REPLY = {"resolved": "reopen", "pending_customer": "start_work"}
"""The transition a customer's reply makes from each state."""


class CustomerReplies:
    def __init__(self, records: RecordsService, transitions: TransitionService) -> None:
        self._records = records
        self._transitions = transitions

    def _subject(self) -> AccessSubject:
        model = self._records.runtime().model
        roles = tuple(sorted(name for name, role in model.roles.items() if role.admin))
        return AccessSubject(user_id=ACTOR, username=ACTOR, roles=roles, is_admin=True)

    def received(self, ticket_id: str) -> str | None:
        """Move the ticket as a customer's reply does; returns the transition made (None:
        none was needed). NotFound when there is no such ticket."""
        subject = self._subject()
        ticket = self._records.get(subject, TICKET, ticket_id)
        transition = ON_REPLY.get(str(ticket.get("status")))
        if transition is None:
            return None
        self._transitions.transition(subject, TICKET, ticket_id, transition)
        return transition
