"""A real webhook receiver on loopback (tests/webhooks, tests/api): an HTTP server in a
thread that verifies every request.

Each POST is checked the way a customer's endpoint would check it: the Standard Webhooks
signature with `standardwebhooks.Webhook(secret).verify(...)` for each configured secret
(`verified_with` records which ones pass) and the body against the published JSON Schema of
the payload version it declares (`schemas/webhooks/`, `data.version`). The answer follows a
script: a list of status codes consumed one per request (then 200), a redirect, or holding
the request open until released (to kill a worker in the middle of a delivery).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jsonschema
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

SCHEMA_DIRECTORY = Path(__file__).resolve().parents[1] / "schemas" / "webhooks"
SCHEMA_FILES = {1: "payload.schema.json", 2: "payload.v2.schema.json"}
"""The published schema of each payload format version (`data.version` picks one)."""


def _validator(name: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((SCHEMA_DIRECTORY / name).read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


VALIDATORS = {version: _validator(name) for version, name in SCHEMA_FILES.items()}


def schema_errors_of(document: Any) -> list[str]:
    """What is wrong with a record event body, checked against the schema of the version it
    says it is (an unknown version is an error too)."""
    data = document.get("data") if isinstance(document, dict) else None
    version = data.get("version") if isinstance(data, dict) else None
    validator = VALIDATORS.get(version) if isinstance(version, int) else None
    if validator is None:
        return [f"no published schema for payload version {version!r}"]
    return [error.message for error in validator.iter_errors(document)]


@dataclass
class Delivery:
    """One request the receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes
    verified_with: list[str]
    schema_errors: list[str]
    status: int

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]


@dataclass
class Script:
    statuses: list[int] = field(default_factory=list)
    redirect_to: str | None = None
    hold: threading.Event | None = None
    held: threading.Event = field(default_factory=threading.Event)


class Receiver:
    """The server, what it got, and how it answers (change `script` between requests)."""

    def __init__(self, secrets: Sequence[str] = (), host: str = "127.0.0.1") -> None:
        self.secrets = list(secrets)
        self.deliveries: list[Delivery] = []
        self.script = Script()
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer((host, 0), self._handler())
        self.server.daemon_threads = True
        self.host = host
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str = "/hook") -> str:
        return f"http://{self.host}:{self.port}{path}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self.script.hold is not None:
            self.script.hold.set()
        self.server.shutdown()
        self.server.server_close()

    def answer(self, *statuses: int) -> None:
        """Answer the next requests with these statuses (then 200)."""
        self.script.statuses = list(statuses)

    def received(self, path: str = "/hook") -> list[Delivery]:
        with self._lock:
            return [d for d in self.deliveries if d.path == path]

    def _record(self, delivery: Delivery) -> None:
        with self._lock:
            self.deliveries.append(delivery)

    def _verify(self, body: bytes, headers: dict[str, str]) -> list[str]:
        passed = []
        for secret in self.secrets:
            try:
                Webhook(secret).verify(body, headers)
            except WebhookVerificationError:
                continue
            passed.append(secret)
        return passed

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                script = receiver.script
                if script.redirect_to is not None and self.path == "/hook":
                    status = 307
                elif script.statuses:
                    status = script.statuses.pop(0)
                else:
                    status = 200
                schema_errors: list[str] = []
                try:
                    document = json.loads(body)
                    if isinstance(document, dict) and str(
                            document.get("type", "")).startswith("record."):
                        schema_errors = schema_errors_of(document)
                except ValueError as exc:
                    schema_errors = [f"not JSON: {exc}"]
                receiver._record(Delivery(self.path, headers, body,
                                          receiver._verify(body, headers), schema_errors,
                                          status))
                if script.hold is not None:
                    script.held.set()
                    script.hold.wait(120)
                answer = b'{"ok": true}' if status < 300 else b"receiver says no " * 200
                try:
                    self.send_response(status)
                    if status == 307 and script.redirect_to is not None:
                        self.send_header("Location", script.redirect_to)
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the sender is gone (a worker killed while we held its request)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

        return Handler


@contextmanager
def receiver(secrets: Sequence[str] = (), host: str = "127.0.0.1") -> Iterator[Receiver]:
    server = Receiver(secrets, host)
    server.start()
    try:
        yield server
    finally:
        server.stop()
