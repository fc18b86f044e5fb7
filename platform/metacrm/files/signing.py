"""Short-lived signed download links: `<attachment id>.<signer>.<expires>.<HMAC>`.

The HMAC-SHA256 is keyed by a key derived from the instance's secret key (so rotating
`METACRM_SECRET_KEY` voids every link) and covers the attachment, who asked for the link
and when it expires. A link opens the file only until it expires and only while its signer
may still read the record (the file service checks through the access layer again).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime

from metacrm.kernel.errors import ErrorDetail, NotFound

PURPOSE = b"metacrm.files.signed-url.v1"


@dataclass(frozen=True, slots=True)
class SignedLink:
    attachment_id: str
    signer: str
    expires: int
    """Unix seconds."""


def _key(secret: str) -> bytes:
    return hmac.new(secret.encode(), PURPOSE, hashlib.sha256).digest()


def _mac(secret: str, attachment_id: str, signer: str, expires: int) -> str:
    message = f"{attachment_id}.{signer}.{expires}".encode()
    digest = hmac.new(_key(secret), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _unb64(text: str) -> str:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()


def sign(secret: str, attachment_id: str, signer: str, expires_at: datetime) -> str:
    expires = int(expires_at.timestamp())
    signer_part = _b64(signer)
    return (f"{attachment_id}.{signer_part}.{expires}."
            f"{_mac(secret, attachment_id, signer, expires)}")


def verify(secret: str, token: str, now: datetime) -> SignedLink:
    """The link `token` names; NotFound when it is malformed, forged or expired (all
    answered alike, so a prober learns nothing)."""
    refused = NotFound("this download link is invalid or has expired",
                       [ErrorDetail("ask for a new link", "/token")])
    parts = token.split(".") if isinstance(token, str) and len(token) <= 400 else []
    if len(parts) != 4 or not parts[2].isdigit():
        raise refused
    attachment_id, signer_part, expires_text, mac = parts
    try:
        signer = _unb64(signer_part)
    except (ValueError, UnicodeDecodeError):
        raise refused from None
    expires = int(expires_text)
    if not hmac.compare_digest(mac, _mac(secret, attachment_id, signer, expires)):
        raise refused
    if expires <= now.timestamp():
        raise refused
    return SignedLink(attachment_id, signer, expires)
