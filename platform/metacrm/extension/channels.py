"""Channel providers: how messages reach people over a channel (telegram, sms...).

The core keeps one provider per channel type (`ctx.register_channel_provider`); whoever
sends a message on a channel gets the provider registered for it. Two packs offering the
same channel are a conflict, refused when the second is installed. The core's own channels
(`email`, `sms`) are registered the same way by the core and cannot be taken over by a pack.
A provider whose channel reports what became of a sent message (delivered, bounced...)
also implements `ReportsDelivery`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """A text message to one recipient address (a chat id, a phone number...)."""

    recipient: str
    text: str


@dataclass(frozen=True, slots=True)
class DeliveryReceipt:
    """What the channel said when it accepted a message."""

    channel: str
    message_id: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A message that arrived over a channel."""

    channel: str
    sender: str
    text: str
    sender_name: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


class ChannelProvider(Protocol):
    """Sends and parses the messages of one channel type."""

    def send(self, message: OutboundMessage) -> DeliveryReceipt:
        """Deliver `message`; raise an exception when the channel refused it."""
        ...

    def parse_inbound(self, payload: Mapping[str, Any]) -> Sequence[InboundMessage]:
        """The messages in a payload the channel pushed to us (may be none)."""
        ...


@dataclass(frozen=True, slots=True)
class DeliveryStatus:
    """What the channel later said about a sent message: `status` is one of `queued`,
    `sent`, `delivered`, `undelivered`, `failed`; `error` the channel's reason, if any."""

    channel: str
    message_id: str
    status: str
    error: str | None = None


class ReportsDelivery(Protocol):
    """A provider whose channel reports delivery (status callbacks, bounce messages)."""

    def delivery_status(self, payload: Mapping[str, Any]) -> DeliveryStatus | None:
        """The status a callback or report carries; None when it carries none."""
        ...


class AddressedChannel(Protocol):
    """A provider that says where its recipients' addresses are kept, so the record page
    offers its channel on records having one: `{"person": "telegram_chat_id"}`."""

    recipient_fields: Mapping[str, str]


__all__ = ["AddressedChannel", "ChannelProvider", "DeliveryReceipt", "DeliveryStatus",
           "InboundMessage",
           "OutboundMessage", "ReportsDelivery"]
