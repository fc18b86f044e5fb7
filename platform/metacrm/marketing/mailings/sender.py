"""The `mailings.send` consumer: sends a mailing in batches, resumably, within its
mailbox's rate.

One work item per run of a mailing (target: the mailing id). Each attempt:
1. stops at once unless the mailing is `sending` (a pause or cancel takes effect at the
   next batch);
2. fails the rows a dead worker left claimed (`ledger.RecipientLedger`: at most once);
3. loops: take up to the rate allowance of `queued` rows and, a group at a time, check
   consent NOW (`refusal(email, list_id=<segment>)`: a refused row is skipped with
   that reason — no consent, unsubscribed, bounced...), claim the group, render and send
   each, record the group's outcomes; refresh the mailing's counters after each batch;
4. when the allowance is spent, or the attempt has used half the job lease, it hands the
   item back with `RetryLater(delay)` — the dispatcher runs it again then, in this or
   another worker, and the ledger says where it stopped.

A/B: first the `a` and `b` rows (the sample); when they are all sent, the rest waits
`ab_wait_hours`, then the winner (by the mailing's metric) is recorded and the rest sent
with its subject.

Messages go out over one SMTP connection per batch (`smtp_send.deliver` opens one per
message: at mass-mailing volume the TCP and TLS handshakes would dominate).
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from metacrm.access.subject import AccessSubject
from metacrm.email import record_token
from metacrm.email.mailboxes import Mailbox, MailboxStore
from metacrm.email.templates import EmailTemplates
from metacrm.kernel.errors import MetacrmError
from metacrm.kernel.jobs import EventRecord, GiveUp, RetryLater, WorkItem
from metacrm.mail.smtp import TIMEOUT_SECONDS, parse_smtp_url
from metacrm.marketing.mailings import ab_split, rate_limit
from metacrm.marketing.mailings.compose import OutgoingMail, compose
from metacrm.marketing.mailings.ledger import GROUP, INTERRUPTED, MAILING, RecipientLedger
from metacrm.marketing.mailings.links import rewrite, url_digest
from metacrm.marketing.mailings.ports import Consent
from metacrm.marketing.mailings.rendering import MailingRenderer
from metacrm.marketing.mailings.tokens import MailingTokens
from metacrm.services.records.service import RecordsService

log = logging.getLogger(__name__)
CONSUMER = "mailings.send"
BATCH_SIZE = 100
RETRY_DELAYS = (timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=10))


def _requeued(rows: Sequence[Mapping[str, Any]]) -> list[tuple[str, Mapping[str, Any]]]:
    return [(str(row["id"]), {"status": "queued", "claimed_at": None}) for row in rows]


def split_links(value: Any) -> list[str]:
    return [line for line in str(value or "").splitlines() if line.strip()]


class SmtpSession:
    """One SMTP connection for a batch of messages through a mailbox."""

    def __init__(self, mailbox: Mailbox) -> None:
        server = parse_smtp_url(mailbox.smtp_url or "")
        self.mailbox = mailbox
        if server.implicit_tls:
            self.smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                server.host, server.port, timeout=TIMEOUT_SECONDS,
                context=ssl.create_default_context())
        else:
            self.smtp = smtplib.SMTP(server.host, server.port, timeout=TIMEOUT_SECONDS)
        if server.starttls:
            self.smtp.starttls(context=ssl.create_default_context())
        if server.username:
            self.smtp.login(server.username, mailbox.secret("smtp_password") or "")

    def send(self, message: Any, to: str) -> None:
        self.smtp.send_message(message, from_addr=self.mailbox.address, to_addrs=[to])

    def close(self) -> None:
        try:
            self.smtp.quit()
        except (smtplib.SMTPException, OSError):
            self.smtp.close()


class MailingSender:
    """Sends mailings (see the module docstring)."""

    name = CONSUMER

    def __init__(self, records: RecordsService, ledger: RecipientLedger,
                 tokens: MailingTokens, mailboxes: Callable[[], MailboxStore],
                 templates: EmailTemplates, consent: Callable[[], Consent],
                 subject_of: Callable[[str], AccessSubject | None], *, secret: str,
                 public_url: str, clock: Callable[[], datetime], lease: timedelta,
                 batch_size: int = BATCH_SIZE) -> None:
        self.records = records
        self.ledger = ledger
        self.tokens = tokens
        self._mailboxes = mailboxes
        self.templates = templates
        self._consent = consent
        self.subject_of = subject_of
        self.secret = secret
        self.public_url = public_url.rstrip("/")
        self.clock = clock
        self.lease = lease
        self.batch_size = batch_size
        self.renderer = MailingRenderer()

    # --- the consumer's protocol -------------------------------------------------------

    def targets(self, event: EventRecord) -> Sequence[str]:
        return ()

    def retry_delay(self, item: WorkItem) -> timedelta | None:
        index = item.attempt - 1
        return RETRY_DELAYS[index] if index < len(RETRY_DELAYS) else None

    def handle(self, item: WorkItem) -> None:
        mailing_id = item.target
        if self._mailing(mailing_id).get("status") != "sending":
            return
        self.ledger.fail_interrupted(mailing_id, self.lease)
        deadline = time.monotonic() + self.lease.total_seconds() / 2
        while True:
            mailing = self._mailing(mailing_id)
            if mailing.get("status") != "sending":
                self.refresh(mailing_id)
                return
            variants = self._variants(mailing)
            mailbox = self._mailboxes().find(str(mailing.get("mailbox") or ""))
            if mailbox is None or not mailbox.smtp_url:
                self.refresh(mailing_id, {"status": "paused"})
                raise GiveUp(f"the mailbox {mailing.get('mailbox')} cannot send: the mailing "
                             "is paused")
            allowed = rate_limit.allowance(mailbox.send_per_minute,
                                           self._sent_recently(mailbox), self.batch_size)
            if allowed == 0:
                self.refresh(mailing_id)
                raise RetryLater("the mailbox's rate limit", rate_limit.WINDOW / 2)
            rows = self.ledger.queued(mailing_id, variants, allowed)
            if not rows:
                if self._ab_waiting(mailing):
                    continue
                self.refresh(mailing_id, {"status": "sent", "finished_at": self.clock()})
                return
            self._send_batch(mailing, mailbox, rows)
            self.refresh(mailing_id)
            if time.monotonic() > deadline:
                raise RetryLater("continues in the next attempt", timedelta())

    # --- steps ---------------------------------------------------------------------------

    def _mailing(self, mailing_id: str) -> dict[str, Any]:
        with self.records.engine.connect() as conn:
            mailing = self.records.runtime().system.get(conn, MAILING, mailing_id)
        if mailing is None:
            raise GiveUp(f"there is no mailing {mailing_id}")
        return dict(mailing)

    def refresh(self, mailing_id: str, changes: Mapping[str, Any] | None = None) -> None:
        """Write the counters (and `changes`) to the mailing."""
        values = {**self.ledger.counters(mailing_id), **(changes or {})}
        with self.records.transaction() as conn:
            self.records.runtime().system.update(conn, MAILING, mailing_id, values,
                                                 actor="mailing:sender", trusted=True)

    def _variants(self, mailing: Mapping[str, Any]) -> list[str]:
        if not mailing.get("ab_sample_percent") or not mailing.get("subject_b"):
            return ["a"]
        if mailing.get("ab_winner"):
            return ["a", "b", ab_split.REST]
        return ["a", "b"]

    def _ab_waiting(self, mailing: Mapping[str, Any]) -> bool:
        """True when the A/B winner was decided now (go on with the rest); RetryLater
        while the wait runs; False when there is nothing left to send."""
        if self._variants(mailing) != ["a", "b"]:
            return False
        mailing_id = str(mailing["id"])
        rest = self.ledger.count(mailing_id, {"field": "variant", "op": "eq",
                                              "value": ab_split.REST},
                                 {"field": "status", "op": "eq", "value": "queued"})
        if rest == 0:
            return False
        now = self.clock()
        decide_at = mailing.get("ab_decide_at")
        if decide_at is None:
            decide_at = now + timedelta(hours=int(mailing.get("ab_wait_hours") or 0))
            self.refresh(mailing_id, {"ab_decide_at": decide_at})
        if now < decide_at:
            raise RetryLater("waiting for the A/B test's result", decide_at - now)
        metric = str(mailing.get("ab_metric") or "opens")
        a = ab_split.VariantResult(*self.ledger.variant_counts(mailing_id, "a"))
        b = ab_split.VariantResult(*self.ledger.variant_counts(mailing_id, "b"))
        self.refresh(mailing_id, {"ab_winner": ab_split.winner(a, b, metric)})
        return True

    def _sent_recently(self, mailbox: Mailbox) -> int:
        """Messages sent through `mailbox` by any mailing within the rate window."""
        if mailbox.send_per_minute is None:
            return 0
        since = (self.clock() - rate_limit.WINDOW).isoformat()
        with self.records.engine.connect() as conn:
            system = self.records.runtime().system
            mailings = system.query(conn, MAILING, limit=500, criteria={"and": [
                {"field": "mailbox", "op": "eq", "value": mailbox.name},
                {"field": "status", "op": "eq", "value": "sending"}]}).records
        return sum(self.ledger.count(str(m["id"]),
                                     {"field": "sent_at", "op": "gte", "value": since})
                   for m in mailings)

    def _send_batch(self, mailing: Mapping[str, Any], mailbox: Mailbox,
                    rows: Sequence[Mapping[str, Any]]) -> None:
        consent = self._consent()
        segment = str(mailing["segment"])
        owner = self.subject_of(str(mailing.get("owner") or mailing.get("created_by") or ""))
        if owner is None:
            self.refresh(str(mailing["id"]), {"status": "paused"})
            raise GiveUp("the mailing's owner is no active user: the mailing is paused")
        body = self.body_of(mailing, owner)
        session: SmtpSession | None = None
        try:
            for start in range(0, len(rows), GROUP):
                group = rows[start:start + GROUP]
                refusals = [consent.refusal(str(row.get("email") or ""), list_id=segment)
                            for row in group]
                allowed = [row for row, refusal in zip(group, refusals, strict=True)
                           if refusal is None]
                self.ledger.mark_many([(str(row["id"]), {"status": "skipped",
                                                         "skip_reason": refusal})
                                       for row, refusal in zip(group, refusals, strict=True)
                                       if refusal is not None])
                if not allowed:
                    continue
                if session is None:  # before the first claim: a server that is down
                    session = SmtpSession(mailbox)  # leaves every row queued
                self._send_group(mailing, mailbox, session, owner, body,
                                 self.ledger.claim_many(allowed))
        finally:
            if session is not None:
                session.close()

    def _send_group(self, mailing: Mapping[str, Any], mailbox: Mailbox,
                    session: SmtpSession, owner: AccessSubject, body: str,
                    claimed: Sequence[Mapping[str, Any]]) -> None:
        """Send claimed rows and record what became of each in one transaction; when the
        server fails mid-way, rows not tried yet go back to the queue (and the error is
        raised for the work item's retry)."""
        outcomes: list[tuple[str, Mapping[str, Any]]] = []
        try:
            for index, row in enumerate(claimed):
                recipient_id = str(row["id"])
                try:
                    message = self.message_for(mailing, mailbox, row, owner, body)
                except MetacrmError as exc:
                    outcomes.append((recipient_id, {"status": "failed",
                                                    "error": str(exc)[:2000]}))
                    continue
                try:
                    session.send(message, str(row["email"]))
                except smtplib.SMTPRecipientsRefused as exc:
                    outcomes.append((recipient_id, {
                        "status": "failed", "error": f"refused: {exc.recipients}"[:2000]}))
                    continue
                except smtplib.SMTPResponseException as exc:
                    if exc.smtp_code >= 500:
                        outcomes.append((recipient_id, {
                            "status": "failed",
                            "error": f"{exc.smtp_code} {exc.smtp_error!r}"[:2000]}))
                        continue
                    # "not now" (4xx): the server did not take this message
                    outcomes.extend(_requeued(claimed[index:]))
                    raise
                except (smtplib.SMTPException, OSError):
                    # the connection broke mid-message: it may have been accepted
                    outcomes.append((recipient_id, {"status": "failed",
                                                    "error": INTERRUPTED}))
                    outcomes.extend(_requeued(claimed[index + 1:]))
                    raise
                outcomes.append((recipient_id, {"status": "sent", "sent_at": self.clock(),
                                                "message_id": message["Message-ID"]}))
        finally:
            self.ledger.mark_many(outcomes)

    def body_of(self, mailing: Mapping[str, Any], owner: AccessSubject) -> str:
        """The body template: the mailing's text, else its email template's."""
        if mailing.get("body"):
            return str(mailing["body"])
        template = self.templates.find(owner, mailing.get("template"), "en")
        return str(template.get("body") or "")

    def _record(self, owner: AccessSubject, row: Mapping[str, Any]) -> Mapping[str, Any]:
        regarding = row.get("regarding")  # a RecordLink (engine rows) or its JSON form
        if isinstance(regarding, Mapping):
            entity, record_id = regarding.get("entity"), regarding.get("id")
        else:
            entity, record_id = getattr(regarding, "entity", None), getattr(regarding, "id", None)
        if not entity or not record_id:
            return {}
        try:
            return self.records.get(owner, str(entity), str(record_id))
        except MetacrmError:
            return {}

    def message_for(self, mailing: Mapping[str, Any], mailbox: Mailbox,
                    row: Mapping[str, Any], owner: AccessSubject, body: str,
                    record: Mapping[str, Any] | None = None) -> Any:
        """The MIME message of one recipient row (rendered, links rewritten, headers);
        `record`: the values `{{ record.<field> }}` reads (default: the row's recipient
        as `owner` may read it)."""
        recipient_id = str(row["id"])
        variant = str(row.get("variant") or "a")
        if variant == ab_split.REST:
            variant = str(mailing.get("ab_winner") or "a")
        subject = str(mailing.get("subject_b") if variant == "b" else mailing.get("subject"))
        title, text = self.renderer.render(
            subject, body, self._record(owner, row) if record is None else record,
            name=str(row.get("contact_name") or ""),
            email=str(row.get("email") or ""), now=self.clock())
        if mailing.get("track_clicks"):
            links = split_links(mailing.get("tracked_links"))
            text = rewrite(text, links, lambda index, url: (
                f"{self.public_url}/m/c/{self.tokens.click(recipient_id, index, url_digest(url))}"))
        unsubscribe = self.tokens.unsubscribe(recipient_id, str(mailing["id"]),
                                              str(mailing["segment"]))
        return compose(OutgoingMail(
            from_address=mailbox.address, from_name="", to=str(row["email"]), subject=title,
            text=text,
            message_id=record_token.message_id(self.secret, "mailing_recipient", recipient_id,
                                               mailbox.domain),
            unsubscribe_url=f"{self.public_url}/m/u/{unsubscribe}",
            unsubscribe_mailto=mailbox.address if mailbox.imap_url else None,
            unsubscribe_token=unsubscribe,
            open_pixel_url=(f"{self.public_url}/m/o/{self.tokens.open(recipient_id)}"
                            if mailing.get("track_opens") else None),
            language=str(row.get("language") or "en")))
