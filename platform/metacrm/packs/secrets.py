"""Pack secrets at rest: Fernet tokens under a key derived from the instance's secret key.

Each pack gets its own key (HKDF-SHA256 of the instance secret key, with the pack's name in
`info`), so a token copied from one pack's row to another's does not decrypt, and the
instance key itself never touches the database. Rotating METACRM_SECRET_KEY makes stored
secrets unreadable: they must be set again (`metacrm pack settings NAME --set-secret KEY`),
which the error says.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from metacrm.kernel.errors import ErrorDetail, ValidationFailed

_SALT = b"metacrm pack settings"


class SecretBox:
    """Encrypts and decrypts one pack's secret settings (JSON values)."""

    def __init__(self, secret_key: str, pack: str) -> None:
        if not secret_key:
            raise ValueError("pack secrets need the instance secret key")
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT,
                       info=f"pack:{pack}".encode()).derive(secret_key.encode("utf-8"))
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))
        self._pack = pack

    def seal(self, value: Any) -> str:
        return self._fernet.encrypt(json.dumps(value).encode("utf-8")).decode("ascii")

    def open(self, token: str, key: str) -> Any:
        try:
            return json.loads(self._fernet.decrypt(token.encode("ascii")))
        except InvalidToken:
            raise ValidationFailed(
                f"the secret setting {key!r} of pack {self._pack} cannot be decrypted: was the "
                "instance secret key (METACRM_SECRET_KEY) changed?",
                [ErrorDetail(f"set it again: metacrm pack settings {self._pack} "
                             f"--set-secret {key}", f"/{key}", self._pack)]) from None
