"""The shipped Telegram pack (extensions/telegram) in a real app: its public webhook route
checks the secret header, records replies through the service account, and the host's
channel registry sends through it to a local server speaking the Bot API."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from pack_harness import Spec, entity, field_def, grants, open_world, pack_role

ROOT = Path(__file__).resolve().parents[2] / "extensions" / "telegram"
MANIFEST = json.loads((ROOT / "metacrm_telegram" / "pack.json").read_text())
PERSON = entity("person", field_def("last_name", required=True),
                field_def("telegram_chat_id"),
                field_def("telegram_last_message", "textarea"))
SECRET = "Bot-Api-s3cret"


class BotApi(BaseHTTPRequestHandler):
    sent: ClassVar[list[Any]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        BotApi.sent.append((self.path, body))
        data = json.dumps({"ok": True, "result": {"message_id": 7}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def bot_api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BotApi)
    BotApi.sent = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_webhook_and_channel_in_a_running_instance(isolated_database_url: str, tmp_path: Path,
                                                   bot_api: str) -> None:
    role = pack_role("telegram", person=grants("read", "update"))
    with open_world(isolated_database_url, tmp_path, PERSON, role) as world:
        spec = Spec(name="telegram", module=MANIFEST["module"], root=ROOT,
                    settings={"bot_token": "42:abc", "webhook_secret": SECRET,
                              "api_base": bot_api, "undeclared": "never seen"},
                    settings_schema=MANIFEST["settings"])
        assert world.host.check_installable(spec) == []
        world.host.sync([spec])
        records = world.services.records
        admin = records.subject_for(_AdminActor())
        person = records.create(admin, "person",
                                {"last_name": "Smith", "telegram_chat_id": "1001"})
        update = {"update_id": 1, "message": {"message_id": 3, "text": "hi",
                                              "chat": {"id": 1001}}}
        url = "/api/v1/ext/telegram/webhook"
        refused = world.client.post(url, json=update)
        assert refused.status_code == 401
        assert refused.mimetype == "application/problem+json"
        accepted = world.client.post(url, json=update,
                                     headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
        assert accepted.status_code == 200, accepted.get_json()
        assert accepted.get_json() == {"ok": True, "recorded": 1}
        assert records.get(admin, "person", person["id"])["telegram_last_message"] == "hi"

        receipt = world.host.send("telegram", "1001", "Hello")
        assert receipt.message_id == "7"
        assert BotApi.sent == [("/bot42:abc/sendMessage", {"chat_id": "1001", "text": "Hello"})]


class _AdminActor:
    """An authenticated admin, as the access layer reads one."""

    user_id = "admin"
    username = "root"
    roles = ("boss",)
    is_admin = True
