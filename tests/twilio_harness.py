"""A Twilio-compatible REST API on loopback (tests/telephony): an HTTP server in a thread
that speaks the documented shapes of the two resources the CRM uses.

* `POST /2010-04-01/Accounts/<sid>/Messages.json` and `.../Calls.json`, form-encoded, HTTP
  basic authentication with the account SID and auth token -> 201 with the created
  resource (`{"sid": "SM…"/"CA…", "status": "queued", "from", "to", …}`);
* a wrong account or token -> 401 `{"code": 20003, "message": "Authenticate", …}`;
* a `To` listed in `refuse` -> 400 `{"code": 21211, "message": "The 'To' number <n> is
  not a valid phone number.", …}` (Twilio's error document).

Every request is kept in `requests` (path, form, whether it authenticated) for assertions.
Also `sign(...)`: what Twilio puts in `X-Twilio-Signature` of the webhooks it sends.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "twilio-test-auth-token"


def sign(auth_token: str, url: str, form: Mapping[str, str]) -> str:
    """Twilio's webhook signature, written from its documentation (independently of the
    CRM's implementation): base64 HMAC-SHA1 of the URL and the sorted name+value pairs."""
    data = url + "".join(f"{name}{form[name]}" for name in sorted(form))
    return base64.b64encode(hmac.new(auth_token.encode(), data.encode(),
                                     hashlib.sha1).digest()).decode()


@dataclass
class Request:
    path: str
    form: dict[str, str]
    authenticated: bool


@dataclass
class FakeTwilio:
    url: str = ""
    requests: list[Request] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def next_sid(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):032x}"


def _handler(state: FakeTwilio) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            form = dict(parse_qsl(self.rfile.read(length).decode()))
            expected = "Basic " + base64.b64encode(
                f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
            authenticated = hmac.compare_digest(self.headers.get("Authorization") or "",
                                                expected)
            state.requests.append(Request(self.path, form, authenticated))
            base = f"/2010-04-01/Accounts/{ACCOUNT_SID}/"
            resource = self.path.removeprefix(base)
            if not authenticated or not self.path.startswith(base):
                self._answer(401, {"code": 20003, "message": "Authenticate",
                                   "more_info": "https://www.twilio.com/docs/errors/20003",
                                   "status": 401})
            elif form.get("To") in state.refuse:
                self._answer(400, {"code": 21211, "message": f"The 'To' number {form['To']} "
                                   "is not a valid phone number.",
                                   "more_info": "https://www.twilio.com/docs/errors/21211",
                                   "status": 400})
            elif resource in ("Messages.json", "Calls.json"):
                prefix = "SM" if resource == "Messages.json" else "CA"
                self._answer(201, {"sid": state.next_sid(prefix), "account_sid": ACCOUNT_SID,
                                   "from": form.get("From"), "to": form.get("To"),
                                   "body": form.get("Body"), "status": "queued",
                                   "direction": "outbound-api"})
            else:
                self._answer(404, {"code": 20404, "message": "The requested resource was "
                                   "not found", "status": 404})

        def _answer(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def twilio_server() -> Iterator[FakeTwilio]:
    state = FakeTwilio()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
