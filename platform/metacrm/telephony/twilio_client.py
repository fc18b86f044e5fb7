"""The two REST resources the CRM uses from a Twilio-compatible API.

* `POST <base>/2010-04-01/Accounts/<sid>/Messages.json` (form: `From`, `To`, `Body`,
  `StatusCallback`) -> 201 `{"sid": "SM…", "status": "queued", …}`;
* `POST <base>/2010-04-01/Accounts/<sid>/Calls.json` (form: `From`, `To`, `Twiml`,
  `StatusCallback`) -> 201 `{"sid": "CA…", "status": "queued", …}`.

HTTP basic authentication with the account SID and auth token. A refusal is Twilio's error
document `{"code": 21211, "message": "The 'To' number … is not a valid phone number.",
"status": 400}`, raised as `TwilioError` with its message; the token is never logged nor
put in an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from metacrm.settings import TelephonySettings

API_VERSION = "2010-04-01"
TIMEOUT_SECONDS = 10.0


class TwilioError(Exception):
    """The API refused a request, or could not be reached."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class TwilioClient:
    def __init__(self, settings: TelephonySettings,
                 transport: httpx.BaseTransport | None = None) -> None:
        self._settings = settings
        self._transport = transport

    def _post(self, resource: str, form: Mapping[str, str]) -> dict[str, Any]:
        settings = self._settings
        url = f"{settings.api_base}/{API_VERSION}/Accounts/{settings.account_sid}/{resource}"
        try:
            with httpx.Client(timeout=TIMEOUT_SECONDS, transport=self._transport) as client:
                response = client.post(url, data=dict(form),
                                       auth=(settings.account_sid, settings.auth_token))
        except httpx.HTTPError as exc:
            raise TwilioError(f"{resource}: the provider cannot be reached "
                              f"({type(exc).__name__})") from None
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if response.status_code >= 400 or not isinstance(answer, dict):
            message = answer.get("message") if isinstance(answer, dict) else None
            code = answer.get("code") if isinstance(answer, dict) else None
            raise TwilioError(str(message or f"{resource}: HTTP {response.status_code}"),
                              code if isinstance(code, int) else None)
        return answer

    def send_sms(self, sender: str, to: str, body: str, status_callback: str | None
                 ) -> dict[str, Any]:
        form = {"From": sender, "To": to, "Body": body}
        if status_callback:
            form["StatusCallback"] = status_callback
        return self._post("Messages.json", form)

    def place_call(self, sender: str, to: str, twiml: str, status_callback: str | None
                   ) -> dict[str, Any]:
        form = {"From": sender, "To": to, "Twiml": twiml}
        if status_callback:
            form["StatusCallback"] = status_callback
        return self._post("Calls.json", form)
