"""The record token in the Message-ID of mail the CRM sends, so replies find their record.

EspoCRM writes `<Entity/id/time/rand@espo>` and trusts any reference of that shape, so a
crafted `References` header can put a message on any record. Here the token is signed:
`<m.{entity}.{record id}.{nonce}.{signature}@{domain}>`, the signature an HMAC-SHA256 of
entity, id and nonce under the instance's secret key (truncated to 16 hex digits); a
token whose signature does not match is ignored.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

PREFIX = "m"
SIGNATURE_LENGTH = 16
TOKEN = re.compile(r"<?m\.([a-z][a-z0-9_]{0,63})\.([A-Za-z0-9-]{1,64})\.([0-9a-f]{8,32})"
                   r"\.([0-9a-f]{16})@[^>\s]+>?")


def _signature(secret: str, entity: str, record_id: str, nonce: str) -> str:
    digest = hmac.new(secret.encode("utf-8"), f"{entity}.{record_id}.{nonce}".encode(),
                      hashlib.sha256).hexdigest()
    return digest[:SIGNATURE_LENGTH]


def message_id(secret: str, entity: str, record_id: str, domain: str) -> str:
    """A fresh Message-ID (with angle brackets) carrying the record `entity`/`record_id`."""
    nonce = secrets.token_hex(8)
    signature = _signature(secret, entity, record_id, nonce)
    return f"<{PREFIX}.{entity}.{record_id}.{nonce}.{signature}@{domain}>"


def records_in(secret: str, headers: str) -> list[tuple[str, str]]:
    """The records named by validly signed tokens in `headers` (In-Reply-To, References),
    newest reference first (References lists the oldest first)."""
    found: list[tuple[str, str]] = []
    for match in reversed(list(TOKEN.finditer(headers or ""))):
        entity, record_id, nonce, signature = match.groups()
        expected = _signature(secret, entity, record_id, nonce)
        if hmac.compare_digest(expected, signature) and (entity, record_id) not in found:
            found.append((entity, record_id))
    return found
