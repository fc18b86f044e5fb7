"""Twilio's request signature (`X-Twilio-Signature`), as its documentation defines it.

The signature is base64(HMAC-SHA1(auth token, the full URL Twilio requested followed by
every POST parameter's name and value, sorted by name)). The URL is the one configured at
Twilio, so the CRM checks against its public URL (`METACRM_PUBLIC_URL`), not the address a
proxy forwarded to.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable

HEADER = "X-Twilio-Signature"


def signature(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    data = url + "".join(name + value for name, value in sorted(params))
    digest = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def is_signed(auth_token: str, url: str, params: Iterable[tuple[str, str]],
              given: str | None) -> bool:
    """Whether `given` is the signature of the request (constant-time comparison)."""
    if not given:
        return False
    return hmac.compare_digest(signature(auth_token, url, params).encode(), given.encode())
