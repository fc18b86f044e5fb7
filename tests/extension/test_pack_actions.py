"""A pack's trigger action: the designer renders a form from its parameter schema, the
trigger built with it is checked against the schema, and it runs when the trigger fires."""

from __future__ import annotations

import html
import json
import re
import sys
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient
from pack_harness import open_world, sign_in, write_pack

import metacrm.web.designer.triggers  # noqa: F401  (makes the blueprint before the app)
from web_harness import bearer

STAMP = '''
CALLS = []

def install(ctx):
    def stamp(call):
        if not call.dry_run:
            CALLS.append((call.trigger, call.record["title"], dict(call.params)))
        return {"stamped": call.record["id"]}

    ctx.register_action("stamp", stamp, params_schema={
        "type": "object",
        "properties": {
            "note": {"type": "string", "description": "What to write"},
            "level": {"type": "integer", "minimum": 1},
            "loud": {"type": "boolean"},
            "tone": {"enum": ["calm", "sharp"]},
        },
        "required": ["note"],
        "additionalProperties": False,
    })
'''

_CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')
_DOCUMENTS = re.compile(r'name="documents" value="([^"]*)"')
_VERSION = re.compile(r'name="expected_version" value="(\d+)"')


def _post(client: FlaskClient, path: str, data: dict[str, str]) -> Any:
    token = _CSRF.search(client.get("/app/").get_data(as_text=True))
    assert token
    return client.post(path, data={"csrf_token": token.group(1), **data})


def _form(**changes: str) -> dict[str, str]:
    form = {"name": "stamp_deals", "label_en": "Stamp", "label_ru": "Штамп",
            "entity": "deal", "event": "created", "mode": "sync", "enabled": "yes",
            "action": "preview", "condition-match": "and", "condition-r0-field": "",
            "action-0-type": "stamp", "action-0-position": "0"}
    form.update(changes)
    return form


def test_the_editor_renders_a_form_from_the_schema_and_the_action_runs(
        isolated_database_url: str, tmp_path: Path) -> None:
    with open_world(isolated_database_url, tmp_path) as world:
        spec = write_pack(tmp_path, "stamper", STAMP)
        world.host.sync([spec])
        world.web.create_user("root", "boss")
        admin = sign_in(world, "root")

        refreshed = _post(admin, "/app/admin/triggers/new",
                          _form(action="refresh", **{"action-0-params": ""}))
        page = refreshed.get_data(as_text=True)
        assert 'name="action-0-param_note"' in page
        assert 'name="action-0-param_level"' in page and 'type="number"' in page
        assert 'type="checkbox" id="action-0-param_loud"' in page
        assert '<option value="sharp"' in page
        assert 'name="action-0-params"' not in page  # no JSON box for this action

        wrong = _post(admin, "/app/admin/triggers/new", _form(**{
            "action-0-param_note": "hi", "action-0-param_level": "many"}))
        assert wrong.status_code == 422
        assert "level" in wrong.get_data(as_text=True)

        preview = _post(admin, "/app/admin/triggers/new", _form(**{
            "action-0-param_note": "hi", "action-0-param_level": "3",
            "action-0-param_loud": "on", "action-0-param_tone": "sharp"}))
        text = preview.get_data(as_text=True)
        documents = _DOCUMENTS.search(text)
        version = _VERSION.search(text)
        assert documents and version, text[:3000]
        body = json.loads(html.unescape(documents.group(1)))
        assert body[0]["actions"] == [{"type": "stamp", "params": {
            "note": "hi", "level": 3, "loud": True, "tone": "sharp"}}]
        applied = _post(admin, "/app/admin/changes/apply", {
            "documents": documents.group(1) and html.unescape(documents.group(1)),
            "expected_version": version.group(1), "done_url": "/app/admin/triggers"})
        assert applied.status_code == 302, applied.get_data(as_text=True)[:2000]

        world.create("deal", title="Big")
        calls = sys.modules[str(spec.module)].CALLS
        assert calls == [("stamp_deals", "Big",
                          {"note": "hi", "level": 3, "loud": True, "tone": "sharp"})]

        token = bearer(world.web.login("root"))
        bad = dict(body[0], name="stamp_bad",
                   actions=[{"type": "stamp", "params": {"note": "x", "level": 0}}])
        refused = world.client.put("/api/v1/meta/trigger/stamp_bad", json=bad, headers=token)
        assert refused.status_code == 422
        assert "/actions/0/params/level" in {e["pointer"] for e in
                                             refused.get_json()["errors"]}
