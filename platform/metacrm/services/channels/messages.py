"""Messages over a pack's channel (Telegram…) from a record: what the record page's compose
panel offers beside email and SMS, and the send itself.

A pack's provider says where its recipients' addresses are kept with `recipient_fields`
(`{"person": "telegram_chat_id"}`, `metacrm.extension.AddressedChannel`). A channel
applies to a record when its entity is among them and the record has an address there, as
the sender may read it (a hidden field offers nothing). The core's own channels (email,
SMS) keep their own senders and panels and are never offered here.

Sending needs the record readable (404 otherwise) and, when the instance has notes (the
activities pack) that may be about this record, the right to create a note: the message is
logged as a note about the record ("Telegram message", its text), so it shows on the
record's timeline. The note is written only once the provider accepted the message; a
refusal is a 502 naming the provider's reason, and nothing is logged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from metacrm.access.subject import AccessSubject
from metacrm.extension.channels import OutboundMessage
from metacrm.fieldtypes.regarding import allowed_entities
from metacrm.kernel.errors import ErrorDetail, MetacrmError, ValidationFailed
from metacrm.services.channels.registry import ChannelRegistry
from metacrm.services.records.service import RecordsService

NOTE = "note"
REGARDING = "regarding"
MAX_TEXT = 4096
"""Telegram's limit on one message; other channels refuse longer ones themselves."""


class ChannelRefused(MetacrmError):
    status = 502
    title = "Bad Gateway"


@dataclass(frozen=True, slots=True)
class ChannelOffer:
    """A channel a record can be reached on, and its address there."""

    channel: str
    recipient: str


class PackChannelMessages:
    """`services.channels.messages`."""

    def __init__(self, records: RecordsService, channels: ChannelRegistry) -> None:
        self.records = records
        self.channels = channels

    def offers(self, entity: str, record: Mapping[str, Any]) -> list[ChannelOffer]:
        """The packs' channels `record` (as the sender reads it) has an address on."""
        found = []
        core = set(self.channels.core_channels())
        for channel in self.channels.pack_channels():
            if channel in core:
                continue
            try:
                provider = self.channels.provider(channel)
            except LookupError:
                continue
            fields = getattr(provider, "recipient_fields", None)
            field = fields.get(entity) if isinstance(fields, Mapping) else None
            value = record.get(field) if isinstance(field, str) else None
            if isinstance(value, str | int) and str(value).strip():
                found.append(ChannelOffer(channel, str(value).strip()))
        return found

    def send(self, subject: AccessSubject, entity: str, record_id: str, channel: Any,
             text: Any) -> dict[str, Any] | None:
        """Send `text` to the record over `channel`; the note logging it (None when this
        instance has no notes about such records)."""
        if not isinstance(text, str) or not text.strip():
            raise ValidationFailed("the message cannot be sent", [
                ErrorDetail("write the message", "/text")])
        if len(text) > MAX_TEXT:
            raise ValidationFailed("the message cannot be sent", [
                ErrorDetail(f"at most {MAX_TEXT} characters", "/text")])
        record = self.records.get(subject, entity, record_id)  # NotFound outside the scope
        offers = {offer.channel: offer for offer in self.offers(entity, record)}
        offer = offers.get(channel) if isinstance(channel, str) else None
        if offer is None:
            can = ", ".join(sorted(offers)) or "none"
            raise ValidationFailed("the message cannot be sent", [ErrorDetail(
                f"this record cannot be reached on {channel!r}; it can on: {can}",
                "/channel")])
        logged = self._loggable(entity)
        if logged:
            self.records.runtime().scoped(subject).require(NOTE, "create")
        try:
            self.channels.provider(offer.channel).send(OutboundMessage(offer.recipient, text))
        except Exception as exc:  # a provider may raise anything; its message is the reason
            raise ChannelRefused(f"the {offer.channel} channel refused the message", [
                ErrorDetail(str(exc)[:500] or type(exc).__name__, "/channel")]) from None
        if not logged:
            return None
        return self.records.create(subject, NOTE, {
            "subject": f"{offer.channel.capitalize()} message", "body": text,
            REGARDING: {"entity": entity, "id": record_id}})

    def _loggable(self, entity: str) -> bool:
        """Whether a note may be about records of `entity`."""
        note = self.records.runtime().model.entities.get(NOTE)
        field = note.field(REGARDING) if note is not None else None
        return field is not None and field.type == REGARDING \
            and entity in allowed_entities(field)
