"""Signed tokens of the public mailing routes: unsubscribe, open pixel, click redirect.

They are signed with the instance's secret key by itsdangerous (as the survey links of
`metacrm.service_desk.surveys`), one salt per purpose, so a token minted for one route is
refused by another. They do not expire: an unsubscribe link must work in an old message
(RFC 8058 asks for it to keep working), and a click on a year-old link should still land.
A token names the recipient row, not the address, so nothing personal is in the URL
beyond what the row already links; the unsubscribe token also carries the list (segment)
so the one-click POST needs no database read to know what to unsubscribe from.

A click token names the link by its index in the mailing's recorded links AND a digest of
that URL: the redirect goes only to the URL the mailing recorded, and only if it is still
the one the token was made for (`links.py`). Nothing in a token is a URL to follow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer

UNSUBSCRIBE_SALT = "metacrm.mailing.unsubscribe"
OPEN_SALT = "metacrm.mailing.open"
CLICK_SALT = "metacrm.mailing.click"


class InvalidToken(Exception):
    """A token that is forged, broken, or made for another route."""


@dataclass(frozen=True)
class UnsubscribeToken:
    recipient_id: str
    mailing_id: str
    list_id: str | None


@dataclass(frozen=True)
class ClickToken:
    recipient_id: str
    link_index: int
    url_digest: str


def _text(payload: dict[str, Any], key: str) -> str:
    value = payload.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidToken(f"the token has no {key}")
    return value


class MailingTokens:
    """Makes and checks the tokens of one instance (its secret key)."""

    def __init__(self, secret: str) -> None:
        self._unsubscribe = URLSafeSerializer(secret, salt=UNSUBSCRIBE_SALT)
        self._open = URLSafeSerializer(secret, salt=OPEN_SALT)
        self._click = URLSafeSerializer(secret, salt=CLICK_SALT)

    @staticmethod
    def _load(serializer: URLSafeSerializer, token: str) -> dict[str, Any]:
        try:
            payload = serializer.loads(token)
        except BadSignature:
            raise InvalidToken("the token's signature does not match") from None
        if not isinstance(payload, dict):
            raise InvalidToken("the token is not a mailing token")
        return payload

    def unsubscribe(self, recipient_id: str, mailing_id: str, list_id: str | None) -> str:
        return str(self._unsubscribe.dumps({"r": recipient_id, "m": mailing_id,
                                            "l": list_id}))

    def read_unsubscribe(self, token: str) -> UnsubscribeToken:
        payload = self._load(self._unsubscribe, token)
        list_id = payload.get("l")
        if list_id is not None and not isinstance(list_id, str):
            raise InvalidToken("the token's list is not text")
        return UnsubscribeToken(_text(payload, "r"), _text(payload, "m"), list_id)

    def open(self, recipient_id: str) -> str:
        return str(self._open.dumps({"r": recipient_id}))

    def read_open(self, token: str) -> str:
        """The recipient row an open pixel token names."""
        return _text(self._load(self._open, token), "r")

    def click(self, recipient_id: str, link_index: int, url_digest: str) -> str:
        return str(self._click.dumps({"r": recipient_id, "i": link_index, "d": url_digest}))

    def read_click(self, token: str) -> ClickToken:
        payload = self._load(self._click, token)
        index = payload.get("i")
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            raise InvalidToken("the token's link index is not a number")
        return ClickToken(_text(payload, "r"), index, _text(payload, "d"))
