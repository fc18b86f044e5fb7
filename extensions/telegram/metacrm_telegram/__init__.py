"""Telegram as a message channel (metacrm pack `telegram`), only through `metacrm.extension`.

* Channel provider `telegram`: a message to a recipient (a contact's chat id) is the Bot
  API's `POST <api_base>/bot<token>/sendMessage`; the answer `{"ok": true, "result":
  {"message_id": …}}` is the receipt, `{"ok": false, "description": …}` an error.
* Public route `POST /api/v1/ext/telegram/webhook` for the updates Telegram pushes (set it
  with `setWebhook(url, secret_token=<webhook_secret>)`): the `X-Telegram-Bot-Api-Secret-
  Token` header must equal the `webhook_secret` setting; each text message is recorded on
  the person whose `telegram_chat_id` is the chat's id (`telegram_last_message`).
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import httpx

from metacrm.extension import (
    DeliveryReceipt,
    ExtensionContext,
    ExtRequest,
    ExtResponse,
    HttpError,
    InboundMessage,
    OutboundMessage,
    Records,
)

CHANNEL = "telegram"
DEFAULT_API_BASE = "https://api.telegram.org"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name, not a secret
TIMEOUT_SECONDS = 10.0


class TelegramError(Exception):
    """The Bot API refused a request (its `description` is the message)."""


class TelegramProvider:
    """`ChannelProvider` of the Bot API; a person's chat id is their address, so the record
    page offers Telegram on people who have one (`AddressedChannel`)."""

    recipient_fields: ClassVar[Mapping[str, str]] = {"person": "telegram_chat_id"}

    def __init__(self, token: str, api_base: str = DEFAULT_API_BASE,
                 transport: httpx.BaseTransport | None = None) -> None:
        self._token = token
        self._base = api_base.rstrip("/")
        self._transport = transport

    def _call(self, method: str, body: Mapping[str, Any]) -> Any:
        with httpx.Client(timeout=TIMEOUT_SECONDS, transport=self._transport) as client:
            response = client.post(f"{self._base}/bot{self._token}/{method}", json=body)
        try:
            answer = response.json()
        except ValueError:
            raise TelegramError(f"{method}: HTTP {response.status_code}, not JSON") from None
        if not isinstance(answer, dict) or not answer.get("ok"):
            description = answer.get("description") if isinstance(answer, dict) else None
            raise TelegramError(f"{method}: {description or f'HTTP {response.status_code}'}")
        return answer.get("result")

    def send(self, message: OutboundMessage) -> DeliveryReceipt:
        result = self._call("sendMessage", {"chat_id": message.recipient, "text": message.text})
        message_id = result.get("message_id") if isinstance(result, dict) else None
        return DeliveryReceipt(CHANNEL, None if message_id is None else str(message_id),
                               result if isinstance(result, dict) else {})

    def parse_inbound(self, payload: Mapping[str, Any]) -> Sequence[InboundMessage]:
        message = payload.get("message") or payload.get("edited_message")
        if not isinstance(message, Mapping) or not isinstance(message.get("text"), str):
            return []
        chat = message.get("chat") or {}
        sender = message.get("from") or {}
        if not isinstance(chat, Mapping) or "id" not in chat:
            return []
        name = " ".join(str(sender.get(k)) for k in ("first_name", "last_name")
                        if isinstance(sender, Mapping) and sender.get(k)) or None
        return [InboundMessage(CHANNEL, str(chat["id"]), message["text"], name,
                               dict(payload))]


def record_replies(records: Records, messages: Sequence[InboundMessage]) -> int:
    """Put each message on the people with its chat id; returns how many were updated."""
    updated = 0
    for message in messages:
        people = records.list("person", where={"field": "telegram_chat_id", "op": "eq",
                                               "value": message.sender}, limit=10)
        for person in people.records:
            records.update("person", str(person["id"]),
                           {"telegram_last_message": message.text})
            updated += 1
    return updated


def webhook(request: ExtRequest, secret: str | None, provider: TelegramProvider,
            records: Records) -> ExtResponse:
    """Take one update pushed by Telegram."""
    given = request.header(SECRET_HEADER) or ""
    if not secret or not hmac.compare_digest(given.encode(), secret.encode()):
        raise HttpError(401, f"missing or wrong {SECRET_HEADER}")
    update = request.json()
    if not isinstance(update, dict):
        raise HttpError(400, "an update must be a JSON object")
    messages = provider.parse_inbound(update)
    return ExtResponse(json={"ok": True, "recorded": record_replies(records, messages)})


def install(ctx: ExtensionContext) -> None:
    settings = ctx.settings
    provider = TelegramProvider(settings["bot_token"],
                                settings.get("api_base") or DEFAULT_API_BASE)
    secret = settings.get("webhook_secret")
    records = ctx.records
    ctx.register_channel_provider(CHANNEL, provider)
    ctx.route("webhook", ["POST"], lambda request: webhook(request, secret, provider, records),
              public=True)
