"""SMS and calls from a record: `POST …/messages` with `channel: sms`, and click-to-call.

* **SMS** `{"channel": "sms", "to": "+4420…" | ["+4420…"], "body": "…", "from"?}`: the
  sender must read the record and create `sms_message` records; the message is stored
  (`queued`) about the record, then handed to the provider in the same request (one HTTP
  call); it becomes `queued`/`sent` with the provider's id, or `failed` with the
  provider's reason. Status callbacks move it on (`delivered`, `undelivered`...).
* **Click-to-call** `{"agent": "+4479…", "to"?: "+4420…", "from"?}`: the provider first
  rings the agent's phone and, when they answer, dials the contact (`<Dial>` with the
  CRM's number as caller id); `to` defaults to the record's mobile or phone. The `call` is
  logged about the record (direction `out`, the provider's `CallSid`); its status
  callback fills the duration and outcome. A refusal by the provider is a 502 and logs
  nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from xml.sax.saxutils import quoteattr

from metacrm.access.subject import AccessSubject
from metacrm.fieldtypes.regarding import allowed_entities
from metacrm.kernel.errors import ErrorDetail, MetacrmError, ValidationFailed
from metacrm.services.records.service import RecordsService
from metacrm.settings import TelephonySettings
from metacrm.telephony import phones
from metacrm.telephony.intake import CALL_ENTITY, SMS_ENTITY, telephony_subject
from metacrm.telephony.provider import CHANNEL, crm_status
from metacrm.telephony.twilio_client import TwilioClient, TwilioError

SMS_FIELDS = frozenset({"channel", "to", "body", "from"})
CALL_FIELDS = frozenset({"to", "agent", "from"})
MAX_BODY = 1600
"""Twilio's limit on one message's text (it splits it into segments)."""


class ProviderRefused(MetacrmError):
    status = 502
    title = "Bad Gateway"


def _problem(message: str, pointer: str) -> ValidationFailed:
    return ValidationFailed(f"the request cannot be carried out: {message}",
                            [ErrorDetail(message, pointer)])


def _number(value: Any, pointer: str) -> str:
    if isinstance(value, list) and len(value) == 1:
        value, pointer = value[0], f"{pointer}/0"
    number = phones.e164(value) if isinstance(value, str) else None
    if number is None:
        raise _problem("one phone number in international form (+ and the country code)",
                       pointer)
    return number


class TelephonyOutbound:
    def __init__(self, records: RecordsService, settings: TelephonySettings,
                 client: TwilioClient, callbacks: Mapping[str, str],
                 clock: Callable[[], datetime]) -> None:
        self.records = records
        self.settings = settings
        self.client = client
        self.callbacks = callbacks
        self.clock = clock

    def _sender(self, body: Mapping[str, Any]) -> str:
        own = [number.number for number in self.settings.numbers]
        wanted = body.get("from")
        if wanted is None:
            if not own:
                raise _problem("the CRM has no phone number to use: an admin sets "
                               "METACRM_TELEPHONY_NUMBERS", "/from")
            return own[0]
        if not isinstance(wanted, str) or wanted not in own:
            raise _problem(f"not one of the CRM's numbers ({', '.join(own) or 'none'})",
                           "/from")
        return wanted

    def _regarding(self, subject: AccessSubject, entity: str, record_id: str,
                   logged_as: str) -> dict[str, Any]:
        """The record (NotFound outside the subject's scope), once the subject may log."""
        runtime = self.records.runtime()
        definition = runtime.model.entities.get(logged_as)
        field = definition.field("regarding") if definition is not None else None
        if field is None or entity not in allowed_entities(field):
            raise _problem(f"{logged_as} cannot be about a {entity}", "")
        record = self.records.get(subject, entity, record_id)
        runtime.scoped(subject).require(logged_as, "create")
        return record

    def send(self, subject: AccessSubject, entity: str, record_id: str,
             body: Mapping[str, Any]) -> dict[str, Any]:
        """Send the SMS `body` asks for about the record; returns the stored message."""
        if not isinstance(body, Mapping):
            raise _problem("the body must be a JSON object", "")
        unknown = sorted(set(body) - SMS_FIELDS)
        if unknown:
            raise _problem(f"unknown property {unknown[0]!r}", f"/{unknown[0]}")
        self._regarding(subject, entity, record_id, SMS_ENTITY)
        to = _number(body.get("to"), "/to")
        text = body.get("body")
        if not isinstance(text, str) or not text.strip():
            raise _problem("the text to send is required", "/body")
        if len(text) > MAX_BODY:
            raise _problem(f"at most {MAX_BODY} characters", "/body")
        sender = self._sender(body)
        message = self.records.create(subject, SMS_ENTITY, {
            "direction": "out", "status": "queued", "body": text, "from_number": sender,
            "to_number": to, "sent_at": self.clock().isoformat(),
            "regarding": {"entity": entity, "id": record_id}})
        try:
            answer = self.client.send_sms(sender, to, text, self.callbacks.get("sms"))
            changes: dict[str, Any] = {"status": crm_status(answer.get("status")),
                                       "provider_id": str(answer.get("sid") or "") or None}
        except TwilioError as exc:
            changes = {"status": "failed", "error": str(exc)}
        self.records.update(telephony_subject(self.records), SMS_ENTITY,
                            str(message["id"]), changes)
        return self.records.get(subject, SMS_ENTITY, str(message["id"]))

    def call(self, subject: AccessSubject, entity: str, record_id: str,
             body: Mapping[str, Any]) -> dict[str, Any]:
        """Ring the agent, then the record's number; returns the logged call."""
        if not isinstance(body, Mapping):
            raise _problem("the body must be a JSON object", "")
        unknown = sorted(set(body) - CALL_FIELDS)
        if unknown:
            raise _problem(f"unknown property {unknown[0]!r}", f"/{unknown[0]}")
        record = self._regarding(subject, entity, record_id, CALL_ENTITY)
        agent = _number(body.get("agent"), "/agent")
        if body.get("to") is not None:
            to = _number(body["to"], "/to")
        else:
            found = next((record[name] for name in ("mobile", "phone")
                          if isinstance(record.get(name), str) and record[name]), None)
            if found is None:
                raise _problem(f"this {entity} has no phone number; give one", "/to")
            to = _number(found, "/to")
        sender = self._sender(body)
        twiml = (f"<Response><Dial callerId={quoteattr(sender)}><Number>{to}</Number>"
                 "</Dial></Response>")
        try:
            answer = self.client.place_call(sender, agent, twiml, self.callbacks.get("voice"))
        except TwilioError as exc:
            raise ProviderRefused("the telephony provider refused the call", [
                ErrorDetail(str(exc), "/to")]) from None
        return self.records.create(subject, CALL_ENTITY, {
            "subject": f"Call to {to}", "direction": "out", "phone": to,
            "occurred_at": self.clock().isoformat(),
            "provider_id": str(answer.get("sid") or "") or None,
            "regarding": {"entity": entity, "id": record_id}})


__all__ = ["CHANNEL", "ProviderRefused", "TelephonyOutbound"]
