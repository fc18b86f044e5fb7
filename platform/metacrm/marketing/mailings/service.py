"""`MailingService`: what users do with a mailing (schedule, send now, pause, resume,
cancel, send a test, read its progress) and what the public routes do (one-click and
page unsubscribes, the open pixel, click redirects), and what the bounce mailbox's
reports do.

Status moves draft → scheduled → sending → sent, with paused and cancelled; `status` is
read-only to clients, so these actions are the only way to move it. An action checks the
caller may update the mailing (the records service's scoped update of nothing, in the
same transaction) before the engine writes the status.

Starting a mailing (`start_due`, the scheduler's `mailings.start` task, or `send now`)
writes the recipient rows in one transaction with the status change and the work item:
the audience is resolved as the mailing's owner may read it, addresses are lower-cased
and deduplicated (a second row is `skipped: duplicate`), members without an address are
`skipped: no_email`, and each row gets its A/B variant. Consent is NOT decided here but
at send time, row by row, so an unsubscribe between the start and the send is honoured.
"""

from __future__ import annotations

import smtplib
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Protocol

import sqlalchemy as sa

from metacrm.access.subject import AccessSubject
from metacrm.email.mailboxes import MailboxStore
from metacrm.kernel.errors import (
    Conflict,
    ErrorDetail,
    MetacrmError,
    NotFound,
    ValidationFailed,
)
from metacrm.kernel.ids import new_id
from metacrm.kernel.jobs import EventRecord
from metacrm.marketing.mailings import ab_split
from metacrm.marketing.mailings.dsn import read_feedback
from metacrm.marketing.mailings.ledger import ACTOR, MAILING, RecipientLedger
from metacrm.marketing.mailings.links import destination, tracked_links
from metacrm.marketing.mailings.ports import Audience, Consent
from metacrm.marketing.mailings.sender import CONSUMER, MailingSender, SmtpSession
from metacrm.marketing.mailings.tokens import InvalidToken, MailingTokens
from metacrm.services.records.service import RecordsService

START_TASK = "mailings.start"
STARTABLE = ("scheduled",)


class Submitter(Protocol):
    """The job queue as mailings use it (`metacrm.jobs.dispatcher.Dispatcher`)."""

    def submit(self, conn: sa.Connection, consumer: str, target: str, event: EventRecord
               ) -> str | None: ...

    def kick(self) -> None: ...


class MailingLinkInvalid(NotFound):
    """A tracking or unsubscribe link that is forged, broken or names nothing (404: the
    page does not say which)."""


class MailServerRefused(MetacrmError):
    """The sender mailbox's SMTP server refused a test message or could not be reached
    (502: the CRM is fine, the server it relays to is not); `answer` is what the server
    said, or why it could not be reached."""

    status = 502
    title = "Bad Gateway"

    def __init__(self, mailbox: str, answer: str) -> None:
        super().__init__(f"the mail server of mailbox {mailbox!r} did not take the test: "
                         f"{answer}", [ErrorDetail(f"the mail server answered: {answer}",
                                                   "/mailbox")])
        self.answer = answer


def _smtp_answer(exc: Exception) -> str:
    """What an SMTP failure says, for a person: the server's codes and texts, or why the
    connection failed."""
    def text(value: bytes | str) -> str:
        return value.decode(errors="replace") if isinstance(value, bytes) else str(value)

    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "; ".join(f"{address}: {code} {text(message)}"
                         for address, (code, message) in exc.recipients.items())
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {text(exc.smtp_error)}"
    if isinstance(exc, OSError) and not isinstance(exc, smtplib.SMTPException):
        return f"it could not be reached ({exc.strerror or type(exc).__name__})"
    return str(exc) or type(exc).__name__


def _problem(message: str, pointer: str) -> ValidationFailed:
    return ValidationFailed(f"the mailing cannot be sent: {message}",
                            [ErrorDetail(message, pointer)])


class MailingService:
    def __init__(self, records: RecordsService, ledger: RecipientLedger,
                 sender: MailingSender, tokens: MailingTokens,
                 mailboxes: Callable[[], MailboxStore], audience: Callable[[], Audience],
                 consent: Callable[[], Consent], submitter: Callable[[], Submitter],
                 clock: Callable[[], datetime]) -> None:
        self.records = records
        self.ledger = ledger
        self.sender = sender
        self.tokens = tokens
        self._mailboxes = mailboxes
        self._audience = audience
        self._consent = consent
        self._submitter = submitter
        self.clock = clock

    # --- actions of users ------------------------------------------------------------------

    def _authorized(self, conn: sa.Connection, subject: AccessSubject, mailing_id: str
                    ) -> dict[str, Any]:
        """The mailing, when `subject` may update it (else NotFound / Forbidden)."""
        self.records.update_in(conn, subject, MAILING, mailing_id, {})
        found = self.records.runtime().system.get(conn, MAILING, mailing_id, for_update=True)
        if found is None:
            raise NotFound(f"mailing record {mailing_id} does not exist")
        return dict(found)

    def _move(self, conn: sa.Connection, mailing: Mapping[str, Any], allowed: tuple[str, ...],
              changes: Mapping[str, Any]) -> dict[str, Any]:
        status = mailing.get("status")
        if status not in allowed:
            raise Conflict(f"a {status} mailing cannot be {changes.get('status')}", [
                ErrorDetail(f"the mailing is {status}; this needs {' or '.join(allowed)}",
                            "/status")])
        return dict(self.records.runtime().system.update(
            conn, MAILING, str(mailing["id"]), dict(changes), actor=ACTOR, trusted=True))

    def _check_sendable(self, mailing: Mapping[str, Any], subject: AccessSubject) -> str:
        """The body template's text, after checking the mailing can be sent."""
        mailbox = self._mailboxes().find(str(mailing.get("mailbox") or ""))
        if mailbox is None or not mailbox.smtp_url:
            raise _problem("no mailbox of this name with an SMTP server", "/mailbox")
        if mailing.get("ab_sample_percent") and not mailing.get("subject_b"):
            raise _problem("an A/B test needs subject B", "/subject_b")
        body = mailing.get("body")
        if not body and mailing.get("template"):
            body = self.sender.templates.find(subject, mailing.get("template"), "en").get("body")
        if not body:
            raise _problem("write the text or name an email template", "/body")
        return str(body)

    def schedule(self, subject: AccessSubject, mailing_id: str,
                 at: datetime | None = None) -> dict[str, Any]:
        """Schedule a draft for `at` (None: now — "send now"); starts it at once when due."""
        when = at or self.clock()
        with self.records.transaction() as conn:
            mailing = self._authorized(conn, subject, mailing_id)
            body = self._check_sendable(mailing, subject)
            updated = self._move(conn, mailing, ("draft",), {
                "status": "scheduled", "scheduled_at": when,
                "tracked_links": "\n".join(tracked_links(body)) or None})
        if when <= self.clock():
            self.start(mailing_id)
            return self.get(subject, mailing_id)
        return updated

    def pause(self, subject: AccessSubject, mailing_id: str) -> dict[str, Any]:
        with self.records.transaction() as conn:
            mailing = self._authorized(conn, subject, mailing_id)
            self._move(conn, mailing, ("scheduled", "sending"), {"status": "paused"})
        return self.get(subject, mailing_id)

    def resume(self, subject: AccessSubject, mailing_id: str) -> dict[str, Any]:
        """A paused mailing goes on where it stopped (or waits for its time again when it
        had not started)."""
        with self.records.transaction() as conn:
            mailing = self._authorized(conn, subject, mailing_id)
            started = mailing.get("started_at") is not None
            self._move(conn, mailing, ("paused",),
                       {"status": "sending" if started else "scheduled"})
            if started:
                self._submit(conn, mailing_id, "mailing.resumed")
        self._submitter().kick()
        if not started and mailing.get("scheduled_at") and \
                mailing["scheduled_at"] <= self.clock():
            self.start(mailing_id)
        return self.get(subject, mailing_id)

    def cancel(self, subject: AccessSubject, mailing_id: str) -> dict[str, Any]:
        """Stop for good; rows not sent yet become `skipped: cancelled`."""
        with self.records.transaction() as conn:
            mailing = self._authorized(conn, subject, mailing_id)
            self._move(conn, mailing, ("draft", "scheduled", "sending", "paused"),
                       {"status": "cancelled", "finished_at": self.clock()})
        while True:
            rows = self.ledger.queued(mailing_id, ["a", "b", ab_split.REST], 500)
            if not rows:
                break
            for row in rows:
                self.ledger.mark(str(row["id"]), {"status": "skipped",
                                                  "skip_reason": "cancelled"})
        self.sender.refresh(mailing_id)
        return self.get(subject, mailing_id)

    def get(self, subject: AccessSubject, mailing_id: str) -> dict[str, Any]:
        return self.records.get(subject, MAILING, mailing_id)

    def progress(self, subject: AccessSubject, mailing_id: str) -> dict[str, Any]:
        """Status and counters as `subject` may read the mailing, counted now, with the
        skipped rows counted per `skip_reason` (`skipped_by_reason`)."""
        mailing = self.get(subject, mailing_id)
        counts = self.ledger.counters(mailing_id)
        done = counts["recipients_count"] - self.ledger.count(mailing_id, {
            "field": "status", "op": "in", "value": ["queued", "sending"]})
        total = counts["recipients_count"]
        return {"id": mailing_id, "status": mailing.get("status"), **counts,
                "done_count": done, "percent": round(100 * done / total) if total else 0,
                "skipped_by_reason": self.ledger.skipped_by_reason(mailing_id),
                "ab_winner": mailing.get("ab_winner")}

    def send_test(self, subject: AccessSubject, mailing_id: str, address: Any
                  ) -> dict[str, Any]:
        """Send the mailing to one address now, subject prefixed `[Test]`, merge fields
        empty; nothing is recorded on the mailing. A server that refuses the message or
        cannot be reached is a `MailServerRefused` (502) saying what it answered."""
        if not isinstance(address, str) or "@" not in address or len(address) > 320:
            raise ValidationFailed("invalid test address", [
                ErrorDetail("an email address", "/address")])
        mailing = self.get(subject, mailing_id)
        self._check_sendable(mailing, subject)
        mailbox = self._mailboxes().get(str(mailing["mailbox"]))
        row = {"id": f"test-{new_id()}", "email": address, "contact_name": "", "variant": "a"}
        message = self.sender.message_for(mailing, mailbox, row, subject, self.sender.body_of(
            mailing, subject), record=self._blank_member(mailing))
        del message["Subject"]
        message["Subject"] = f"[Test] {mailing.get('subject')}"
        try:
            session = SmtpSession(mailbox)
            try:
                session.send(message, address)
            finally:
                session.close()
        except (smtplib.SMTPException, OSError) as exc:
            raise MailServerRefused(mailbox.name, _smtp_answer(exc)) from exc
        return {"sent_to": address, "message_id": message["Message-ID"]}

    def _blank_member(self, mailing: Mapping[str, Any]) -> dict[str, Any]:
        """Every field of the segment's entity, empty: a test renders `{{ record.<field> }}`
        as nothing rather than failing for want of a recipient."""
        runtime = self.records.runtime()
        with self.records.engine.connect() as conn:
            segment = runtime.system.get(conn, "segment", str(mailing.get("segment") or ""))
        entity = runtime.model.entity(str(segment.get("entity"))) if segment else None
        return {name: "" for name in entity.field_names} if entity is not None else {}

    # --- starting --------------------------------------------------------------------------

    def start_due(self, now: datetime) -> None:
        """The scheduler's task: start every scheduled mailing whose time has come
        (nothing to do on an instance without the marketing pack)."""
        runtime = self.records.runtime()
        if runtime.model.entity(MAILING) is None:
            return
        with self.records.engine.connect() as conn:
            due = runtime.system.query(conn, MAILING, limit=100, criteria={
                "and": [{"field": "status", "op": "eq", "value": "scheduled"},
                        {"field": "scheduled_at", "op": "lte", "value": now.isoformat()}]})
        for mailing in due.records:
            self.start(str(mailing["id"]))

    def _submit(self, conn: sa.Connection, mailing_id: str, kind: str) -> None:
        self._submitter().submit(conn, CONSUMER, mailing_id, EventRecord(
            id=new_id(), type=kind, entity=MAILING, record_id=mailing_id, payload={},
            created_at=self.clock()))

    def start(self, mailing_id: str) -> None:
        """Write the recipient rows and hand the mailing to the job queue (once: a mailing
        no longer `scheduled` is left alone)."""
        with self.records.engine.connect() as conn:
            mailing = self.records.runtime().system.get(conn, MAILING, mailing_id)
        if mailing is None or mailing.get("status") not in STARTABLE:
            return
        owner = self.sender.subject_of(str(mailing.get("owner") or mailing.get("created_by")
                                           or ""))
        if owner is None:
            raise _problem("the mailing's owner is no active user", "/owner")
        rows = self._rows(mailing, owner)
        with self.records.transaction() as conn:
            current = self.records.runtime().system.get(conn, MAILING, mailing_id,
                                                        for_update=True)
            if current is None or current.get("status") not in STARTABLE:
                return
            self.ledger.add(conn, rows)
            self.records.runtime().system.update(conn, MAILING, mailing_id, {
                "status": "sending", "started_at": self.clock(),
                "recipients_count": len(rows)}, actor=ACTOR, trusted=True)
            self._submit(conn, mailing_id, "mailing.started")
        self._submitter().kick()

    def _rows(self, mailing: Mapping[str, Any], owner: AccessSubject) -> list[dict[str, Any]]:
        mailing_id = str(mailing["id"])
        sample = mailing.get("ab_sample_percent") if mailing.get("subject_b") else None
        seen: set[str] = set()
        rows: list[dict[str, Any]] = []
        for member in self._audience().resolve(str(mailing["segment"]), actor=owner):
            email = (member.email or "").strip().lower()
            row: dict[str, Any] = {
                "mailing": mailing_id, "email": email or None,
                "contact_name": (member.name or "")[:400] or None,
                "regarding": {"entity": member.entity, "id": member.record_id},
                "language": member.language, "status": "queued",
                "variant": ab_split.assign(mailing_id, email, sample) if email else None}
            if not email:
                row.update(status="skipped", skip_reason="no_email")
            elif email in seen:
                row.update(status="skipped", skip_reason="duplicate")
            seen.add(email)
            rows.append(row)
        return rows

    # --- public routes ---------------------------------------------------------------------

    def _recipient(self, recipient_id: str) -> dict[str, Any]:
        row = self.ledger.get(recipient_id)
        if row is None:
            raise MailingLinkInvalid("this link is not valid")
        return row

    def unsubscribe(self, token: str, *, everything: bool = False,
                    source: str = "one_click") -> dict[str, Any]:
        """Unsubscribe the recipient of `token` from the mailing's list (the RFC 8058
        one-click POST), or from every marketing mail (`everything`, the page's choice)."""
        try:
            read = self.tokens.read_unsubscribe(token)
        except InvalidToken:
            raise MailingLinkInvalid("this link is not valid") from None
        row = self._recipient(read.recipient_id)
        email = str(row.get("email") or "")
        list_id = None if everything else read.list_id
        self._consent().unsubscribe(email, list_id=list_id, source=source)
        return {"email": email, "list_id": list_id}

    def unsubscribe_page(self, token: str) -> dict[str, Any]:
        """What the page shows: the address (masked) and the list."""
        try:
            read = self.tokens.read_unsubscribe(token)
        except InvalidToken:
            raise MailingLinkInvalid("this link is not valid") from None
        email = str(self._recipient(read.recipient_id).get("email") or "")
        name, _at, domain = email.partition("@")
        return {"email": f"{name[:2]}…@{domain}", "list_id": read.list_id}

    def opened(self, token: str) -> None:
        """The open pixel was loaded; nothing is said when the token is bad."""
        try:
            recipient_id = self.tokens.read_open(token)
        except InvalidToken:
            return
        row = self.ledger.get(recipient_id)
        if row is not None and row.get("opened_at") is None:
            self.ledger.mark(recipient_id, {"opened_at": self.clock()})

    def clicked(self, token: str) -> str:
        """Where a click goes (the mailing's own recorded link), recording the click."""
        try:
            read = self.tokens.read_click(token)
        except InvalidToken:
            raise MailingLinkInvalid("this link is not valid") from None
        row = self._recipient(read.recipient_id)
        with self.records.engine.connect() as conn:
            mailing = self.records.runtime().system.get(conn, MAILING, str(row["mailing"]))
        if mailing is None:
            raise MailingLinkInvalid("this link is not valid")
        links = [line for line in str(mailing.get("tracked_links") or "").splitlines() if line]
        try:
            url = destination(read, links)
        except InvalidToken:
            raise MailingLinkInvalid("this link is not valid") from None
        changes: dict[str, Any] = {}
        if row.get("clicked_at") is None:
            changes["clicked_at"] = self.clock()
        if row.get("opened_at") is None:  # a click shows the message was opened
            changes["opened_at"] = self.clock()
        if changes:
            self.ledger.mark(str(row["id"]), changes)
        return url

    # --- the bounce mailbox ----------------------------------------------------------------

    def read_report(self, raw: bytes) -> bool:
        """Act on a bounce or complaint about a mailing's message, or a mailto
        unsubscribe, in `raw`; False for anything else (a report about mail sent from a
        record is the intake's, which marks that message failed; other mail is stored)."""
        feedback = read_feedback(raw)
        if feedback is None:
            return False
        consent = self._consent()
        if feedback.kind == "unsubscribe":
            try:
                read = self.tokens.read_unsubscribe(feedback.token or "")
            except InvalidToken:
                return True
            row = self.ledger.get(read.recipient_id)
            if row is not None and row.get("email"):
                consent.unsubscribe(str(row["email"]), list_id=read.list_id, source="mailto")
            return True
        row = (self.ledger.by_message_id(feedback.original_message_id)
               if feedback.original_message_id else None)
        if row is None:  # about mail sent from a record: the intake marks that message
            return False
        for email in feedback.recipients:
            consent.suppress(email, reason=feedback.kind)
        status = "bounced" if feedback.kind == "bounce" else "complained"
        self.ledger.mark(str(row["id"]), {"status": status, "error": feedback.status})
        self.sender.refresh(str(row["mailing"]))
        return True
