"""The Telegram pack against a local server speaking the Bot API's documented shape."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import metacrm_telegram
import pytest

from metacrm.extension import ExtResponse, HttpError, OutboundMessage
from metacrm.extension.testing import FakeContext

TOKEN = "123456:ABC-test"
DECLARED = ("bot_token", "webhook_secret", "api_base")


class FakeBotApi(BaseHTTPRequestHandler):
    """`POST /bot<token>/sendMessage` -> `{"ok": true, "result": {...}}`; wrong token ->
    401 `{"ok": false, "description": "Unauthorized"}` (as the Bot API answers)."""

    calls: ClassVar[list[tuple[str, Any]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeBotApi.calls.append((self.path, body))
        if self.path == f"/bot{TOKEN}/sendMessage":
            status, answer = 200, {"ok": True, "result": {
                "message_id": 42, "chat": {"id": int(body["chat_id"])}, "text": body["text"]}}
        else:
            status, answer = 401, {"ok": False, "error_code": 401,
                                   "description": "Unauthorized"}
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def bot_api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeBotApi)
    FakeBotApi.calls = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _context(api_base: str, token: str = TOKEN) -> FakeContext:
    context = FakeContext("telegram", DECLARED, {"bot_token": token,
                                                 "webhook_secret": "s3cret",
                                                 "api_base": api_base})
    metacrm_telegram.install(context)
    return context


def test_send_message_posts_to_the_bot_api(bot_api: str) -> None:
    provider = _context(bot_api).channels["telegram"]
    receipt = provider.send(OutboundMessage("1001", "Hello"))
    assert receipt.message_id == "42"
    assert FakeBotApi.calls == [(f"/bot{TOKEN}/sendMessage",
                                 {"chat_id": "1001", "text": "Hello"})]


def test_a_refusal_of_the_bot_api_is_an_error_with_its_description(bot_api: str) -> None:
    provider = _context(bot_api, token="wrong").channels["telegram"]
    with pytest.raises(metacrm_telegram.TelegramError, match="Unauthorized"):
        provider.send(OutboundMessage("1001", "Hello"))


UPDATE = {"update_id": 1, "message": {"message_id": 5, "text": "Yes, call me",
                                      "from": {"id": 1001, "first_name": "Ann"},
                                      "chat": {"id": 1001, "type": "private"}}}


def test_webhook_with_the_secret_records_the_reply_on_the_person(bot_api: str) -> None:
    context = _context(bot_api)
    person = context.records.add("person", last_name="Smith", telegram_chat_id="1001")
    answer = context.request("POST", "webhook", body=json.dumps(UPDATE).encode(),
                             headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret"})
    assert isinstance(answer, ExtResponse) and answer.json == {"ok": True, "recorded": 1}
    assert context.records.get("person", person["id"])["telegram_last_message"] == \
        "Yes, call me"
    assert context.routes["webhook"][2] is True  # public: Telegram has no metacrm login


@pytest.mark.parametrize("headers", [{}, {"X-Telegram-Bot-Api-Secret-Token": "guess"}])
def test_webhook_without_the_secret_is_refused(bot_api: str, headers: dict[str, str]) -> None:
    context = _context(bot_api)
    with pytest.raises(HttpError) as caught:
        context.request("POST", "webhook", body=json.dumps(UPDATE).encode(), headers=headers)
    assert caught.value.status == 401


def test_updates_without_text_are_acknowledged_and_ignored(bot_api: str) -> None:
    provider = _context(bot_api).channels["telegram"]
    assert provider.parse_inbound({"update_id": 2, "my_chat_member": {}}) == []
