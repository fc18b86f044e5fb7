"""The `sms` channel provider: Twilio's Messages resource, inbound webhook and callbacks.

* `send`: one SMS from the CRM's first number (`METACRM_TELEPHONY_NUMBERS`); the receipt's
  `message_id` is the provider's `sid` and `details["status"]` its first status.
* `parse_inbound`: the form fields of Twilio's inbound-message webhook (`MessageSid`,
  `From`, `To`, `Body`); anything else (a call, a status callback) carries no message.
* `delivery_status`: a status callback's `MessageSid` and `MessageStatus` (with
  `ErrorCode` and `ErrorMessage` when it failed), in the CRM's statuses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from metacrm.extension.channels import (
    DeliveryReceipt,
    DeliveryStatus,
    InboundMessage,
    OutboundMessage,
)
from metacrm.telephony.twilio_client import TwilioClient

CHANNEL = "sms"
STATUSES = {"accepted": "queued", "scheduled": "queued", "queued": "queued",
            "sending": "queued", "sent": "sent", "delivered": "delivered",
            "undelivered": "undelivered", "failed": "failed", "canceled": "failed"}
"""Twilio's message statuses -> the `sms_message` statuses."""


def crm_status(provider_status: Any) -> str:
    return STATUSES.get(str(provider_status), "queued")


class SmsProvider:
    def __init__(self, client: TwilioClient, sender: str | None,
                 status_callback: str | None) -> None:
        self.client = client
        self.sender = sender
        self.status_callback = status_callback

    def send(self, message: OutboundMessage) -> DeliveryReceipt:
        if not self.sender:
            raise LookupError("the CRM has no number to send from (METACRM_TELEPHONY_NUMBERS)")
        answer = self.client.send_sms(self.sender, message.recipient, message.text,
                                      self.status_callback)
        return DeliveryReceipt(CHANNEL, str(answer.get("sid") or "") or None,
                               {"status": crm_status(answer.get("status")),
                                "from": self.sender})

    def parse_inbound(self, payload: Mapping[str, Any]) -> Sequence[InboundMessage]:
        sid, sender, body = (payload.get(k) for k in ("MessageSid", "From", "Body"))
        if not (isinstance(sid, str) and sid and isinstance(sender, str) and sender
                and isinstance(body, str)):
            return []
        return [InboundMessage(CHANNEL, sender, body, None, dict(payload))]

    def delivery_status(self, payload: Mapping[str, Any]) -> DeliveryStatus | None:
        sid = payload.get("MessageSid")
        status = payload.get("MessageStatus")
        if not isinstance(sid, str) or not sid or status not in STATUSES:
            return None
        error = None
        if payload.get("ErrorCode"):
            error = " ".join(filter(None, (f"error {payload['ErrorCode']}",
                                           str(payload.get("ErrorMessage") or ""))))
        return DeliveryStatus(CHANNEL, sid, crm_status(status), error)
