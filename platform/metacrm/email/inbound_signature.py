"""The inbound webhook's authentication: `X-Metacrm-Signature: sha256=<hex>`, an
HMAC-SHA256 of the raw request body under the mailbox's `inbound_secret` (the scheme of
GitHub's and most mail providers' webhooks). A mailbox without the secret takes no pushes."""

from __future__ import annotations

import hashlib
import hmac

HEADER = "X-Metacrm-Signature"
PREFIX = "sha256="


def signature(secret: str, body: bytes) -> str:
    return PREFIX + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def is_signed(secret: str | None, body: bytes, given: str | None) -> bool:
    if not secret or not given:
        return False
    return hmac.compare_digest(signature(secret, body).encode(), given.strip().encode())
