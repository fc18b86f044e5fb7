"""What arrives from the provider: inbound SMS, inbound calls, and status callbacks.

* **Inbound SMS** (`sms_message`, direction `in`): stored once per `MessageSid` (the field
  is unique: a webhook retried by the provider is stored once), about the first record
  having the sender's number (people, then leads, then companies — `phones`); a number
  nobody has creates a lead when the CRM number it was sent to allows it (every number
  does, unless `:noleads` in `METACRM_TELEPHONY_NUMBERS`).
* **Inbound call** (`call`, direction `in`): logged once per `CallSid` on the caller's
  record, or on a new lead for an unknown number (the design's "a call must create a
  lead"). The call's status callback later fills its duration and outcome.
* **Status callbacks** of sent SMS: the message's `status` and `error` follow.

The intake acts as the model's admin roles under the name `telephony`; what it stores
belongs to the owner of the record it is about, so that owner's team sees it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from metacrm.access.subject import AccessSubject
from metacrm.kernel.errors import Conflict, ErrorDetail, Forbidden, ValidationFailed
from metacrm.services.records.service import RecordsService
from metacrm.settings import TelephonySettings
from metacrm.telephony import phones
from metacrm.telephony.provider import SmsProvider

SMS_ENTITY = "sms_message"
CALL_ENTITY = "call"
LEAD_ENTITY = "lead"
ACTOR = "telephony"
MAX_TEXT = 1600
CALL_OUTCOMES = {"completed": "connected", "busy": "busy", "no-answer": "no_answer",
                 "failed": "no_answer", "canceled": "no_answer"}
"""Twilio's final call statuses -> the `call` outcome."""


@dataclass(frozen=True)
class Received:
    """What became of one inbound SMS or call."""

    record_id: str
    duplicate: bool
    regarding: Mapping[str, str] | None = None
    lead_id: str | None = None
    owner: str | None = None
    """The user who owns what was stored (the owner of the caller's record), if anyone."""


def telephony_subject(records: RecordsService) -> AccessSubject:
    model = records.runtime().model
    roles = tuple(sorted(name for name, role in model.roles.items() if role.admin))
    if not roles:
        raise Forbidden("the telephony intake acts with an admin role, and the metadata has "
                        "none", [ErrorDetail("add a role with \"admin\": true", "")])
    return AccessSubject(user_id=ACTOR, username=ACTOR, roles=roles, is_admin=True)


def _text(payload: Mapping[str, Any], key: str) -> str:
    value = payload.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailed(f"the request has no {key}", [ErrorDetail(
            f"{key} is required", f"/{key}")])
    return value.strip()


class TelephonyIntake:
    def __init__(self, records: RecordsService, settings: TelephonySettings,
                 provider: SmsProvider, clock: Callable[[], datetime]) -> None:
        self.records = records
        self.settings = settings
        self.provider = provider
        self.clock = clock

    def _creates_leads(self, crm_number: str) -> bool:
        for number in self.settings.numbers:
            if number.number == crm_number:
                return number.create_leads
        return True

    def _stored(self, subject: AccessSubject, entity: str, provider_id: str) -> str | None:
        page = self.records.list(subject, entity, criteria={
            "field": "provider_id", "op": "eq", "value": provider_id}, limit=1, fields=["id"])
        return str(page.records[0]["id"]) if page.records else None

    def _lead(self, conn: sa.Connection, subject: AccessSubject, number: str,
              note: str) -> str:
        values: dict[str, Any] = {"last_name": number, "source": "other", "notes": note}
        if phones.e164(number):
            values["phone"] = number
        return str(self.records.create_in(conn, subject, LEAD_ENTITY, values)["id"])

    def _store(self, entity: str, provider_id: str, caller: str, crm_number: str,
               values: Callable[[Mapping[str, str] | None], dict[str, Any]],
               note: str) -> Received:
        """Store one inbound item about the caller's record (or a new lead), once."""
        subject = telephony_subject(self.records)
        stored = self._stored(subject, entity, provider_id)
        if stored is not None:
            return Received(stored, duplicate=True, owner=self._owner(subject, entity, stored))
        number = phones.e164(caller)
        contacts = phones.contacts_of(self.records, subject, number) if number else []
        regarding = ({"entity": contacts[0].entity, "id": contacts[0].id}
                     if contacts else None)
        owner = contacts[0].owner if contacts else None
        lead_id = None
        try:
            with self.records.transaction() as conn:
                if regarding is None and number and self._creates_leads(crm_number):
                    lead_id = self._lead(conn, subject, number, note)
                    regarding = {"entity": LEAD_ENTITY, "id": lead_id}
                row = values(regarding)
                if owner:
                    row["owner"] = owner
                record_id = str(self.records.create_in(conn, subject, entity, row)["id"])
        except Conflict:  # stored meanwhile by a retried webhook (the unique provider id)
            stored = self._stored(subject, entity, provider_id)
            if stored is None:
                raise
            return Received(stored, duplicate=True, owner=self._owner(subject, entity, stored))
        return Received(record_id, duplicate=False, regarding=regarding, lead_id=lead_id,
                        owner=owner)

    def _owner(self, subject: AccessSubject, entity: str, record_id: str) -> str | None:
        """The owner of a stored item (a webhook retried: it is forwarded as the first)."""
        owner = self.records.get(subject, entity, record_id).get("owner")
        return str(owner) if owner else None

    def receive_sms(self, payload: Mapping[str, Any]) -> Received:
        """Store the inbound SMS a provider webhook carries (ValidationFailed if none)."""
        messages = self.provider.parse_inbound(payload)
        if not messages:
            raise ValidationFailed("the request carries no message", [ErrorDetail(
                "MessageSid, From and Body are required", "")])
        message = messages[0]
        sid = _text(payload, "MessageSid")
        crm_number = str(payload.get("To") or "")

        def values(regarding: Mapping[str, str] | None) -> dict[str, Any]:
            return {"direction": "in", "status": "received", "body": message.text[:MAX_TEXT]
                    or "-", "from_number": message.sender[:32], "to_number": crm_number[:32],
                    "provider_id": sid, "sent_at": self.clock().isoformat(),
                    "regarding": dict(regarding) if regarding else None}

        return self._store(SMS_ENTITY, sid, message.sender, crm_number, values,
                           f"SMS: {message.text[:500]}")

    def receive_call(self, payload: Mapping[str, Any]) -> Received:
        """Log the inbound call a provider's voice webhook announces."""
        sid = _text(payload, "CallSid")
        caller = _text(payload, "From")
        crm_number = str(payload.get("To") or "")
        number = phones.e164(caller)

        def values(regarding: Mapping[str, str] | None) -> dict[str, Any]:
            row: dict[str, Any] = {
                "subject": f"Incoming call from {caller}"[:200], "direction": "in",
                "occurred_at": self.clock().isoformat(), "provider_id": sid,
                "regarding": dict(regarding) if regarding else None}
            if number:
                row["phone"] = number
            return row

        return self._store(CALL_ENTITY, sid, caller, crm_number, values,
                           f"Called {crm_number} on {self.clock():%Y-%m-%d %H:%M} UTC")

    def sms_status(self, payload: Mapping[str, Any]) -> bool:
        """Apply a status callback to the sent message; False when it names none."""
        status = self.provider.delivery_status(payload)
        if status is None:
            return False
        subject = telephony_subject(self.records)
        record_id = self._stored(subject, SMS_ENTITY, status.message_id)
        if record_id is None:
            return False
        self.records.update(subject, SMS_ENTITY, record_id, {
            "status": status.status, "error": status.error})
        return True

    def call_status(self, payload: Mapping[str, Any]) -> bool:
        """A finished call's duration (whole minutes, rounded up) and outcome."""
        sid = payload.get("CallSid")
        outcome = CALL_OUTCOMES.get(str(payload.get("CallStatus")))
        if not isinstance(sid, str) or outcome is None:
            return False
        subject = telephony_subject(self.records)
        record_id = self._stored(subject, CALL_ENTITY, sid)
        if record_id is None:
            return False
        changes: dict[str, Any] = {"outcome": outcome}
        seconds = str(payload.get("CallDuration") or "")
        if seconds.isdigit():
            changes["duration"] = min(1440, math.ceil(int(seconds) / 60))
        self.records.update(subject, CALL_ENTITY, record_id, changes)
        return True
