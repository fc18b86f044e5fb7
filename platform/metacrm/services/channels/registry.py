"""The channel registry: which provider carries a channel, and who sends from a record.

Two tables, both keyed by channel type (`email`, `sms`, `telegram`...):

* **providers** (`ChannelProvider` of `metacrm.extension`: send, parse inbound, and — when
  it also implements `ReportsDelivery` — read delivery status callbacks). Core features
  register theirs at install (`register`); extension packs register theirs through
  `ctx.register_channel_provider`, which the pack host keeps; `provider(channel)` asks the
  core table first, then the packs (`pack_provider`). A core channel cannot be taken over
  by a pack: the core's provider wins and the pack's is never used.
* **record senders**: what `POST /api/v1/records/<entity>/<id>/messages` calls for a
  `channel` — the feature that stores the message on the record's timeline, checks the
  sender's rights and picks the mailbox or number (`register_record_sender`).

A second registration of the same channel in the same table is a programming error
(ValueError), as two packs offering one channel are refused by the pack host.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from metacrm.access.subject import AccessSubject
from metacrm.extension.channels import ChannelProvider

PackProviders = Callable[[str], ChannelProvider]


class RecordSender(Protocol):
    """Sends a message about a record over one channel and returns the stored message."""

    def send(self, subject: AccessSubject, entity: str, record_id: str,
             body: Mapping[str, Any]) -> dict[str, Any]: ...


def _no_packs(channel: str) -> ChannelProvider:
    raise LookupError(f"no installed pack provides channel {channel!r}")


def _no_pack_channels() -> tuple[str, ...]:
    return ()


class ChannelRegistry:
    def __init__(self, pack_provider: PackProviders = _no_packs) -> None:
        self._providers: dict[str, ChannelProvider] = {}
        self._senders: dict[str, RecordSender] = {}
        self.pack_provider = pack_provider
        self.pack_channels: Callable[[], tuple[str, ...]] = _no_pack_channels
        """The channels the loaded packs provide (the pack host's `channels`)."""

    def register(self, channel: str, provider: ChannelProvider) -> None:
        if channel in self._providers:
            raise ValueError(f"channel {channel!r} already has a provider")
        self._providers[channel] = provider

    def provider(self, channel: str) -> ChannelProvider:
        """The provider of `channel`; LookupError when neither the core nor a pack has one."""
        found = self._providers.get(channel)
        return found if found is not None else self.pack_provider(channel)

    def core_channels(self) -> tuple[str, ...]:
        return tuple(sorted(self._providers))

    def register_record_sender(self, channel: str, sender: RecordSender) -> None:
        if channel in self._senders:
            raise ValueError(f"channel {channel!r} already has a record sender")
        self._senders[channel] = sender

    def record_sender(self, channel: str) -> RecordSender | None:
        return self._senders.get(channel)

    def record_channels(self) -> tuple[str, ...]:
        """The channels a message can be sent on from a record, sorted."""
        return tuple(sorted(self._senders))
