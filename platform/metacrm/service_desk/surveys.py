"""Satisfaction surveys: a signed link mailed when a ticket is resolved, answered without
signing in, once.

The link carries a token signed with the instance's secret key (itsdangerous, salt
`metacrm.csat`) naming the ticket; it expires after `TOKEN_DAYS`. Answering creates the
ticket's `csat_response` (its `ticket` field is unique, so a second answer — a reused link,
or two at once — is refused by the database) and copies the score to the ticket's
`csat_score`, in one transaction, as the subject `csat:survey`. The answer belongs to the
ticket's owner, so whoever reads the ticket's team reads its answer (team scope).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from metacrm.access.subject import AccessSubject
from metacrm.kernel.errors import Conflict, ErrorDetail, NotFound, ValidationFailed
from metacrm.kernel.jobs import MailChannel, MailMessage
from metacrm.service_desk.clocks import TICKET
from metacrm.services.records.service import RecordsService

RESPONSE = "csat_response"
TOKEN_DAYS = 30
SALT = "metacrm.csat"
ACTOR = "csat:survey"
MAX_COMMENT = 4000


class SurveyLinkInvalid(NotFound):
    """A survey link that is forged, broken, expired or already answered (404: the page
    does not say which)."""


class Surveys:
    """Sends the survey of a resolved ticket and records the answer."""

    def __init__(self, records: RecordsService, secret: str, public_url: str,
                 mail: Callable[[], MailChannel | None],
                 clock: Callable[[], datetime]) -> None:
        self._records = records
        self._tokens = URLSafeTimedSerializer(secret, salt=SALT)
        self._public_url = public_url.rstrip("/")
        self._mail = mail
        self._clock = clock

    def token(self, ticket_id: str) -> str:
        return self._tokens.dumps({"ticket": ticket_id})

    def link(self, ticket_id: str) -> str:
        return f"{self._public_url}/survey/{self.token(ticket_id)}"

    def ticket_of(self, token: str) -> str:
        """The ticket a token names; SurveyLinkInvalid when it is not a valid, unexpired,
        unanswered survey link."""
        try:
            payload = self._tokens.loads(token, max_age=TOKEN_DAYS * 86400)
        except (SignatureExpired, BadSignature):
            raise SurveyLinkInvalid("this survey link is not valid") from None
        ticket = payload.get("ticket") if isinstance(payload, dict) else None
        if not isinstance(ticket, str) or self._answered(ticket):
            raise SurveyLinkInvalid("this survey link is not valid")
        return ticket

    def _subject(self) -> AccessSubject:
        model = self._records.runtime().model
        roles = tuple(sorted(name for name, role in model.roles.items() if role.admin))
        return AccessSubject(user_id=ACTOR, username=ACTOR, roles=roles, is_admin=True)

    def _answered(self, ticket_id: str) -> bool:
        system = self._records.runtime().system
        with self._records.engine.connect() as conn:
            found = system.query(conn, RESPONSE, criteria={
                "field": "ticket", "op": "eq", "value": ticket_id}, limit=1)
            exists = system.get(conn, TICKET, ticket_id) is not None
        return bool(found.records) or not exists

    def answer(self, token: str, score: Any, comment: Any) -> dict[str, Any]:
        """Record the answer of the survey `token` links to; ValidationFailed (pointing at
        `/score` or `/comment`) for a bad answer, SurveyLinkInvalid for a bad link."""
        ticket = self.ticket_of(token)
        errors = []
        if not (isinstance(score, int) and not isinstance(score, bool) and 1 <= score <= 5):
            errors.append(ErrorDetail("choose a score from 1 to 5", "/score"))
        text = comment if isinstance(comment, str) else ""
        if comment is not None and not isinstance(comment, str):
            errors.append(ErrorDetail("must be text", "/comment"))
        if len(text) > MAX_COMMENT:
            errors.append(ErrorDetail(f"at most {MAX_COMMENT} characters", "/comment"))
        if errors:
            raise ValidationFailed("invalid survey answer", errors)
        subject = self._subject()
        try:
            with self._records.transaction() as conn:
                stored = self._records.runtime().system.get(conn, TICKET, ticket)
                values: dict[str, Any] = {
                    "ticket": ticket, "score": score, "comment": text.strip() or None,
                    "answered_at": self._clock().isoformat()}
                if stored is not None and stored.get("owner"):
                    values["owner"] = stored["owner"]  # the ticket's team reads its answers
                response = self._records.create_in(conn, subject, RESPONSE, values)
                self._records.runtime().system.update(
                    conn, TICKET, ticket, {"csat_score": score}, actor=ACTOR, trusted=True)
        except Conflict:
            raise SurveyLinkInvalid("this survey link is not valid") from None
        return response

    def send(self, ticket: dict[str, Any]) -> bool:
        """Mail the survey of a resolved ticket to its customer; False when it has no
        address to send to."""
        address = ticket.get("customer_email") or self._person_email(ticket)
        if not address:
            return False
        mail = self._mail()
        if mail is None:
            raise RuntimeError("METACRM_SMTP_URL is not set: the survey cannot be mailed")
        link = self.link(str(ticket["id"]))
        subject = f"How did we do? {ticket.get('subject') or ''}".strip()
        mail.send(MailMessage(
            to=(str(address),), subject=subject,
            text=(f"Your request \"{ticket.get('subject') or ''}\" was resolved.\n\n"
                  f"Please rate our help from 1 to 5 (no sign-in needed):\n{link}\n\n"
                  f"Ваше обращение решено. Оцените нашу помощь от 1 до 5:\n{link}\n")))
        return True

    def _person_email(self, ticket: dict[str, Any]) -> str | None:
        person = ticket.get("customer_person")
        if not person:
            return None
        with self._records.engine.connect() as conn:
            record = self._records.runtime().system.get(conn, "person", str(person))
        email = record.get("email") if record is not None else None
        return str(email) if email else None
