"""A pack's channel on the record page (issue 15): the compose panel offers Telegram on a
person who has a chat id, sends through the pack's provider to a local server speaking the
Bot API, and logs the message as a note on the person's timeline; what cannot be sent is
explained and neither reaches the Bot API nor is logged. Browser-free, through Flask's
test client."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from flask.testing import FlaskClient
from pack_harness import PackWorld, Spec, entity, field_def, grants, open_world, pack_role, sign_in

from metacrm.automation.subject import automation_subject
from web_harness import role

ROOT = Path(__file__).resolve().parents[2] / "extensions" / "telegram"
MANIFEST = json.loads((ROOT / "metacrm_telegram" / "pack.json").read_text())
PERSON = {**entity("person", field_def("last_name", required=True),
                   field_def("telegram_chat_id"),
                   field_def("telegram_last_message", "textarea")), "title_field": "last_name"}
NOTE = entity("note", field_def("subject"), field_def("body", "textarea"),
              field_def("regarding", "regarding", entities=["person"]))
REP = role("rep", entities={"person": grants("read", "create", "update"),
                            "note": grants("read", "create")})
TOKEN = "42:abc"


class BotApi(BaseHTTPRequestHandler):
    """`sendMessage` answers ok, except to chat 666, which the Bot API refuses."""

    sent: ClassVar[list[Any]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        BotApi.sent.append((self.path, body))
        if body.get("chat_id") == "666":
            status, answer = 400, {"ok": False, "error_code": 400,
                                   "description": "Bad Request: chat not found"}
        else:
            status, answer = 200, {"ok": True, "result": {"message_id": 7}}
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def world(isolated_database_url: str, tmp_path: Path) -> Iterator[PackWorld]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BotApi)
    BotApi.sent = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with open_world(isolated_database_url, tmp_path, PERSON, NOTE, REP,
                        pack_role("telegram", person=grants("read", "update"))) as world:
            world.host.sync([Spec(
                name="telegram", module=MANIFEST["module"], root=ROOT,
                settings={"bot_token": TOKEN, "webhook_secret": "s3cret",
                          "api_base": f"http://127.0.0.1:{server.server_address[1]}"},
                settings_schema=MANIFEST["settings"])])
            world.web.create_user("rita", "rep")
            yield world
    finally:
        server.shutdown()
        server.server_close()


def person(client: FlaskClient, world: PackWorld, **values: Any) -> str:
    token = world.web.login("rita")
    response = client.post("/api/v1/records/person", json=values,
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 201, response.get_json()
    return str(response.get_json()["data"]["id"])


CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')


def post(client: FlaskClient, path: str, form: dict[str, str]) -> Any:
    """A form post with the session's CSRF token (as the page carries it)."""
    found = CSRF.search(client.get("/app/").get_data(as_text=True))
    assert found, "no CSRF token on the page"
    return client.post(path, data={"csrf_token": found.group(1), **form})


def notes(world: PackWorld, person_id: str) -> list[tuple[str, str]]:
    records = world.services.records
    admin = automation_subject(records.runtime().model, "test")
    page = records.list(admin, "note", criteria={
        "field": "regarding", "op": "eq", "value": person_id}, limit=10)
    return [(note["subject"], note["body"]) for note in page.records]


def offered(page: str) -> list[str]:
    panel = re.search(r"data-channel-compose>(.*?)</section>", page, re.S)
    return re.findall(r'<option value="([^"]+)"', panel.group(1)) if panel else []


def test_telegram_is_offered_on_a_person_with_a_chat_id_and_the_message_is_logged(
        world: PackWorld) -> None:
    rita = sign_in(world, "rita")
    pat = person(rita, world, last_name="Lee", telegram_chat_id="1001")
    nobody = person(rita, world, last_name="Offline")

    assert offered(rita.get(f"/app/r/person/{pat}").get_data(as_text=True)) == ["telegram"]
    assert "data-channel-compose" not in rita.get(f"/app/r/person/{nobody}").get_data(
        as_text=True)

    sent = post(rita, f"/app/r/person/{pat}/channel-message",
                {"channel": "telegram", "text": "Contract is on its way"})
    assert sent.status_code == 302
    assert BotApi.sent == [(f"/bot{TOKEN}/sendMessage",
                            {"chat_id": "1001", "text": "Contract is on its way"})]
    assert notes(world, pat) == [("Telegram message", "Contract is on its way")]
    assert "The message was sent." in rita.get(sent.headers["Location"]).get_data(
        as_text=True)


def test_what_cannot_be_sent_is_explained_and_neither_sent_nor_logged(
        world: PackWorld) -> None:
    rita = sign_in(world, "rita")
    nobody = person(rita, world, last_name="Offline")
    refusing = person(rita, world, last_name="Gone", telegram_chat_id="666")

    for record, form in ((nobody, {"channel": "telegram", "text": "hi"}),
                         (refusing, {"channel": "telegram", "text": "   "}),
                         (refusing, {"channel": "whatsapp", "text": "hi"})):
        answer = post(rita, f"/app/r/person/{record}/channel-message", form)
        assert answer.status_code == 302
        page = rita.get(answer.headers["Location"]).get_data(as_text=True)
        assert "The message was not sent" in page
    assert BotApi.sent == []

    refused = post(rita, f"/app/r/person/{refusing}/channel-message",
                   {"channel": "telegram", "text": "hi"})
    page = rita.get(refused.headers["Location"]).get_data(as_text=True)
    assert "chat not found" in page
    assert notes(world, refusing) == []

