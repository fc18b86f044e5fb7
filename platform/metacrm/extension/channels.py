"""Channel providers: how messages reach people over a channel (telegram, sms...).

The core keeps one provider per channel type (`ctx.register_channel_provider`); whoever
sends a message on a channel gets the provider registered for it. Two packs offering the
same channel are a conflict, refused when the second is installed.
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


__all__ = ["ChannelProvider", "DeliveryReceipt", "InboundMessage", "OutboundMessage"]
