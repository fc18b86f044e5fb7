"""The consent ledger: may this address be mailed, for this purpose, on this list?

Three kinds of records answer it (docs/marketing.md, "Consent model"):

* `consent` — one per address and purpose (unique): where the opt-in came from
  (`source`, `source_detail`, the wording agreed to), when it was requested and granted,
  whether it needed a double opt-in (then it stays `pending` until the signed link mailed
  to the address is opened — no sign-in), and its withdrawal.
* `email_suppression` — an address that must not be mailed: on one list (`list`, a
  segment: a per-list unsubscribe) or, with `list` empty, on every list (the global
  do-not-email: a global unsubscribe, a bounce, a complaint, a block by a user).
* the person's own `email_opt_out` box, which a user may tick on the person's page.

`may_email` is True only when the address has a granted consent for the purpose and
neither a global nor this list's suppression, and no person with that address is opted
out. A per-list unsubscribe touches nothing else (unlike Odoo before PR#34111, where
leaving one list blacklisted the address everywhere). A global unsubscribe writes a global
suppression and ticks the person's `email_opt_out`; unticking the box alone does not lift
the suppression — a new double opt-in confirmed by the address does (it removes global
*unsubscribe* suppressions and unticks the box), or a marketing manager deleting the
suppression. Bounces and complaints are lifted only by deleting their suppression.

Addresses are stored in lower case by the ledger; lookups match the address as given and
in lower case (records typed on screens keep their local part's case: the email field type
lower-cases only the domain). Writes run as the subject `marketing:consent` with the
instance's admin roles — the ledger is reached from public links with no signed-in user.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from metacrm.access.subject import AccessSubject
from metacrm.kernel.errors import ErrorDetail, NotFound, ValidationFailed
from metacrm.kernel.jobs import MailChannel, MailMessage
from metacrm.services.records.service import RecordsService

CONSENT = "consent"
SUPPRESSION = "email_suppression"
PERSON = "person"
ACTOR = "marketing:consent"
SALT = "metacrm.consent.confirm"
CONFIRM_DAYS = 14
"""How long a double opt-in confirmation link works."""
REASONS = ("bounce", "complaint")
PENDING, GRANTED, WITHDRAWN = "pending", "granted", "withdrawn"
REFUSALS = ("no_email", "bounced", "complained", "blocked", "unsubscribed", "opted_out",
            "list_unsubscribed", "no_consent")
"""Why an address may not be mailed (`refusal`), the most lasting first: a bounce or a
complaint outlives an unsubscribe, which outlives one list's."""
_GLOBAL_REFUSALS = {"bounce": "bounced", "complaint": "complained", "manual": "blocked",
                    "unsubscribe": "unsubscribed"}
MAX_EMAIL = 320


class ConfirmationLinkInvalid(NotFound):
    """A confirmation link that is forged, broken or expired (404: the page does not say
    which)."""


def normal_email(email: Any, pointer: str = "/email") -> str:
    """The address in the ledger's form (trimmed, lower case); ValidationFailed when it is
    not an address."""
    if not isinstance(email, str):
        raise ValidationFailed("invalid email address", [ErrorDetail("must be text", pointer)])
    text = email.strip().lower()
    local, _, domain = text.partition("@")
    if not local or "." not in domain or len(text) > MAX_EMAIL or any(
            c.isspace() or c in "<>,;\"" for c in text):
        raise ValidationFailed("invalid email address", [ErrorDetail(
            "must be an email address such as name@example.com", pointer)])
    return text


def _suppression_refusal(row: Mapping[str, Any]) -> str:
    """The refusal a suppression row stands for: one list's unsubscribe, or why the address
    is suppressed everywhere."""
    if row.get("list") is not None:
        return "list_unsubscribed"
    return _GLOBAL_REFUSALS.get(str(row.get("reason")), "blocked")


def _variants(email: str) -> list[str]:
    given = email.strip()
    return sorted({given, given.lower()})


class ConsentLedger:
    """Opt-ins, confirmations, withdrawals, unsubscribes and suppressions, and the check
    every send makes (`services.marketing.consent`)."""

    def __init__(self, records: RecordsService, secret: str, public_url: str,
                 mail: Callable[[], MailChannel | None],
                 clock: Callable[[], datetime]) -> None:
        self._records = records
        self._tokens = URLSafeTimedSerializer(secret, salt=SALT)
        self._public_url = public_url.rstrip("/")
        self._mail = mail
        self._clock = clock

    # --- the contract of metacrm.marketing.mailings --------------------------------------

    def may_email(self, email: str, *, list_id: str | None,
                  purpose: str = "marketing") -> bool:
        """False when the address is globally suppressed or a person with it opted out,
        unsubscribed from this list (`list_id`, the segment a mailing goes to), or has no
        granted consent for `purpose`; checked at send time, so a withdrawal made a second
        ago counts."""
        return self.refusal(email, list_id=list_id, purpose=purpose) is None

    def refusal(self, email: str, *, list_id: str | None, purpose: str = "marketing"
                ) -> str | None:
        """Why the address may not be mailed now (None: it may), the most lasting reason
        first when several hold (`REFUSALS`): `no_email`, `bounced`, `complained`,
        `blocked` (a user's suppression), `unsubscribed` (from everything), `opted_out`
        (a person's `email_opt_out`), `list_unsubscribed` (from `list_id` only),
        `no_consent` (no granted consent for `purpose`). A mailing records it on each
        skipped recipient, so "why did they get nothing" has an answer."""
        if not isinstance(email, str) or not email.strip():
            return "no_email"
        variants = _variants(email)
        system = self._records.runtime().system
        lists: list[Any] = [{"field": "list", "op": "is_null", "value": True}]
        if list_id is not None:
            lists.append({"field": "list", "op": "eq", "value": list_id})
        with self._records.engine.connect() as conn:
            suppressed = system.query(conn, SUPPRESSION, limit=20, criteria={"and": [
                {"field": "email", "op": "in", "value": variants}, {"or": lists}]})
            found = {_suppression_refusal(row) for row in suppressed.records}
            opted_out = system.query(conn, PERSON, limit=1, criteria={"and": [
                {"field": "email", "op": "in", "value": variants},
                {"field": "email_opt_out", "op": "eq", "value": True}]})
            if opted_out.records:
                found.add("opted_out")
            if not found:
                granted = system.query(conn, CONSENT, limit=1, criteria={"and": [
                    {"field": "email", "op": "in", "value": variants},
                    {"field": "purpose", "op": "eq", "value": purpose},
                    {"field": "status", "op": "eq", "value": GRANTED}]})
                if not granted.records:
                    found.add("no_consent")
        return next((reason for reason in REFUSALS if reason in found), None)

    def unsubscribe(self, email: str, *, list_id: str | None, source: str) -> None:
        """Record an unsubscribe from one list (`list_id`, a segment) or, with None, from
        everything (the global do-not-email; the person with the address is marked
        `email_opt_out`). Idempotent."""
        address = normal_email(email)
        runtime = self._records.runtime()
        with self._records.transaction() as conn:
            if list_id is not None and runtime.system.get(conn, "segment", list_id) is None:
                raise ValidationFailed("invalid list", [ErrorDetail(
                    "no such segment", "/list_id")])
            self._suppress_in(conn, address, list_id, "unsubscribe", source)
            if list_id is None:
                for person in self._persons(conn, address):
                    if not person.get("email_opt_out"):
                        runtime.system.update(conn, PERSON, str(person["id"]),
                                              {"email_opt_out": True}, actor=ACTOR,
                                              trusted=True)

    def suppress(self, email: str, *, reason: str) -> None:
        """Stop all mail to an address that bounced or complained (a global suppression;
        idempotent)."""
        if reason not in REASONS:
            raise ValidationFailed("invalid suppression", [ErrorDetail(
                f"must be one of {', '.join(REASONS)}", "/reason")])
        address = normal_email(email)
        with self._records.transaction() as conn:
            self._suppress_in(conn, address, None, reason, reason)

    # --- opt-in, confirmation, withdrawal ------------------------------------------------

    def opt_in(self, email: str, *, purpose: str = "marketing", source: str = "manual",
               source_detail: str | None = None, consent_text: str | None = None,
               double_opt_in: bool = False, person: str | None = None,
               lead: str | None = None) -> dict[str, Any]:
        """Record an opt-in of `email` for `purpose`: granted at once, or with
        `double_opt_in` pending until `confirm` (send the link with `send_confirmation`).
        An address already granted stays granted (a repeated sign-up does not downgrade
        it); a withdrawn one opts in again. Returns the consent (JSON form)."""
        with self._records.transaction() as conn:
            return self.opt_in_in(conn, email, purpose=purpose, source=source,
                                  source_detail=source_detail, consent_text=consent_text,
                                  double_opt_in=double_opt_in, person=person, lead=lead)

    def opt_in_in(self, conn: sa.Connection, email: str, *, purpose: str, source: str,
                  source_detail: str | None, consent_text: str | None,
                  double_opt_in: bool, person: str | None = None,
                  lead: str | None = None) -> dict[str, Any]:
        """`opt_in` within the caller's transaction (a web form's lead and its consent
        are written together)."""
        address = normal_email(email)
        now = self._clock()
        subject = self._subject()
        current = self._consent(conn, address, purpose)
        values: dict[str, Any] = {
            "source": source, "source_detail": source_detail,
            "consent_text": consent_text, "double_opt_in": double_opt_in,
            "requested_at": now.isoformat(),
            **({"person": person} if person else {}), **({"lead": lead} if lead else {})}
        if current is not None and current.get("status") == GRANTED:
            return self._records.runtime().json.record(CONSENT, current)
        if double_opt_in:
            values.update(status=PENDING, granted_at=None, withdrawn_at=None)
        else:
            values.update(status=GRANTED, granted_at=now.isoformat(), withdrawn_at=None)
        if current is None:
            return self._records.create_in(conn, subject, CONSENT, {
                "email": address, "purpose": purpose, **values})
        return self._records.update_in(conn, subject, CONSENT, str(current["id"]), values)

    def withdraw(self, email: str, *, purpose: str = "marketing", source: str) -> None:
        """Withdraw the consent of `email` for `purpose` (nothing to do without one)."""
        address = normal_email(email)
        with self._records.transaction() as conn:
            current = self._consent(conn, address, purpose)
            if current is None or current.get("status") == WITHDRAWN:
                return
            self._records.update_in(conn, self._subject(), CONSENT, str(current["id"]), {
                "status": WITHDRAWN, "withdrawn_at": self._clock().isoformat(),
                "source_detail": source})

    def confirmation_token(self, consent_id: str) -> str:
        return self._tokens.dumps({"consent": consent_id})

    def confirmation_link(self, consent_id: str) -> str:
        """The signed link that confirms a pending consent (`/marketing/confirm/<token>`)."""
        return f"{self._public_url}/marketing/confirm/{self.confirmation_token(consent_id)}"

    def confirm(self, token: str) -> dict[str, Any]:
        """Grant the pending consent a confirmation link names (opening it twice is
        harmless); lifts the address's global *unsubscribe* suppressions and its person's
        `email_opt_out` — the address itself asked again. ConfirmationLinkInvalid for a
        bad, expired or withdrawn-meanwhile link."""
        try:
            payload = self._tokens.loads(token, max_age=CONFIRM_DAYS * 86400)
        except (SignatureExpired, BadSignature):
            raise ConfirmationLinkInvalid("this confirmation link is not valid") from None
        consent_id = payload.get("consent") if isinstance(payload, dict) else None
        if not isinstance(consent_id, str):
            raise ConfirmationLinkInvalid("this confirmation link is not valid")
        runtime = self._records.runtime()
        with self._records.transaction() as conn:
            current = runtime.system.get(conn, CONSENT, consent_id, for_update=True)
            if current is None or current.get("status") == WITHDRAWN:
                raise ConfirmationLinkInvalid("this confirmation link is not valid")
            if current.get("status") == GRANTED:
                return runtime.json.record(CONSENT, current)
            address = str(current["email"])
            for row in self._suppressions(conn, address, global_only=True):
                if row.get("reason") == "unsubscribe":
                    runtime.system.remove(conn, SUPPRESSION, [str(row["id"])])
            for person in self._persons(conn, address):
                if person.get("email_opt_out"):
                    runtime.system.update(conn, PERSON, str(person["id"]),
                                          {"email_opt_out": False}, actor=ACTOR, trusted=True)
            return self._records.update_in(conn, self._subject(), CONSENT, consent_id, {
                "status": GRANTED, "granted_at": self._clock().isoformat()})

    def send_confirmation(self, consent: Mapping[str, Any], *,
                          language: str | None = None) -> None:
        """Mail the double opt-in link of a pending consent to its address."""
        mail = self._mail()
        if mail is None:
            raise RuntimeError("METACRM_SMTP_URL is not set: the confirmation cannot be mailed")
        link = self.confirmation_link(str(consent["id"]))
        english = ("Please confirm that you want to receive our email by opening this "
                   f"link (no sign-in needed):\n{link}\n\nIf you did not ask for it, "
                   "ignore this message.\n")
        russian = ("Подтвердите, что хотите получать наши письма, открыв ссылку "
                   f"(вход не нужен):\n{link}\n\nЕсли вы не подписывались, просто "
                   "проигнорируйте это письмо.\n")
        text = russian + "\n" + english if language == "ru" else english + "\n" + russian
        subject = ("Подтвердите подписку" if language == "ru"
                   else "Please confirm your subscription")
        mail.send(MailMessage(to=(str(consent["email"]),), subject=subject, text=text))

    # --- internals -----------------------------------------------------------------------

    def _subject(self) -> AccessSubject:
        model = self._records.runtime().model
        roles = tuple(sorted(name for name, role in model.roles.items() if role.admin))
        return AccessSubject(user_id=ACTOR, username=ACTOR, roles=roles, is_admin=True)

    def _consent(self, conn: sa.Connection, address: str, purpose: str
                 ) -> dict[str, Any] | None:
        found = self._records.runtime().system.query(conn, CONSENT, limit=1, criteria={
            "and": [{"field": "email", "op": "in", "value": _variants(address)},
                    {"field": "purpose", "op": "eq", "value": purpose}]})
        return dict(found.records[0]) if found.records else None

    def _suppressions(self, conn: sa.Connection, address: str, *, global_only: bool
                      ) -> list[dict[str, Any]]:
        criteria: list[Any] = [{"field": "email", "op": "in", "value": _variants(address)}]
        if global_only:
            criteria.append({"field": "list", "op": "is_null", "value": True})
        found = self._records.runtime().system.query(conn, SUPPRESSION, limit=500,
                                                     criteria={"and": criteria})
        return [dict(record) for record in found.records]

    def _persons(self, conn: sa.Connection, address: str) -> list[dict[str, Any]]:
        found = self._records.runtime().system.query(conn, PERSON, limit=50, criteria={
            "field": "email", "op": "in", "value": _variants(address)})
        return [dict(record) for record in found.records]

    def _suppress_in(self, conn: sa.Connection, address: str, list_id: str | None,
                     reason: str, source: str) -> None:
        for row in self._suppressions(conn, address, global_only=list_id is None):
            if row.get("list") == list_id and row.get("reason") == reason:
                return
        self._records.create_in(conn, self._subject(), SUPPRESSION, {
            "email": address, "list": list_id, "reason": reason, "source": source[:500],
            "suppressed_at": self._clock().isoformat()})
