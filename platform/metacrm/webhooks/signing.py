"""Standard Webhooks signatures (https://www.standardwebhooks.com), with the reference package.

Every delivery carries three headers: `webhook-id` (the EVENT id, the same on every retry, so
a receiver can drop duplicates), `webhook-timestamp` (Unix seconds when this attempt was
signed: receivers refuse stale ones, which stops replays) and `webhook-signature` — `v1,`
and the base64 HMAC-SHA256 of `<id>.<timestamp>.<body>` under the subscription's secret.
While a rotated-out secret is still valid (24 h) the header holds both signatures,
space-separated, so a receiver verifies with either secret.

Secrets are `whsec_` + base64 of 24 to 64 random bytes; `new_secret()` makes one of 32.
"""

from __future__ import annotations

import base64
import binascii
import secrets as random_source
from collections.abc import Sequence
from datetime import UTC, datetime
from math import floor

from standardwebhooks.webhooks import Webhook

SECRET_PREFIX = "whsec_"  # noqa: S105 - the Standard Webhooks prefix, not a secret
SECRET_BYTES = 32
MIN_SECRET_BYTES = 24
MAX_SECRET_BYTES = 64


def new_secret() -> str:
    """A fresh random signing secret."""
    return SECRET_PREFIX + base64.b64encode(random_source.token_bytes(SECRET_BYTES)).decode()


def secret_problem(secret: object) -> str | None:
    """Why `secret` is not an acceptable signing secret (None: it is)."""
    if not isinstance(secret, str) or not secret.startswith(SECRET_PREFIX):
        return f"must be a string starting with {SECRET_PREFIX!r} followed by base64"
    encoded = secret[len(SECRET_PREFIX):]
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return f"must be {SECRET_PREFIX!r} followed by standard base64 (A-Z a-z 0-9 + /, = padding)"
    if not MIN_SECRET_BYTES <= len(key) <= MAX_SECRET_BYTES:
        return (f"must encode {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} random bytes "
                f"(this one has {len(key)})")
    return None


def signature_headers(
    secrets: Sequence[str], message_id: str, timestamp: datetime, body: str
) -> dict[str, str]:
    """The Standard Webhooks headers for `body`, signed with each of `secrets`."""
    if not secrets:
        raise ValueError("at least one secret is needed to sign")
    timestamp = timestamp.astimezone(UTC)  # the package reads naive fields as UTC
    signatures = [Webhook(secret).sign(message_id, timestamp, body) for secret in secrets]
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(floor(timestamp.timestamp())),
        "webhook-signature": " ".join(signatures),
    }
