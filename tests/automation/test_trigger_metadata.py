"""Trigger actions are checked against the actions registry when metadata is planned or
applied: an unknown action type names the registered ones, bad params point into the
document; nothing is applied."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from trigger_world import MODEL, TriggerWorld, create_task, set_fields, trigger, trigger_world

from metacrm.kernel.errors import ErrorDetail, MetadataInvalid
from metacrm.metadata.documents import Document
from web_harness import bearer, open_web


def documents(*bodies: dict[str, Any]) -> list[Document]:
    return [Document.from_body(body, source=f"pack/{body['name']}.json", pack="pack")
            for body in (*MODEL, *bodies)]


def refused(world: TriggerWorld, *bodies: dict[str, Any]) -> list[ErrorDetail]:
    with pytest.raises(MetadataInvalid) as planned:
        world.services.metadata.plan(documents(*bodies))
    number = world.services.metadata.live().number
    with pytest.raises(MetadataInvalid) as applied:
        world.services.metadata.apply(documents(*bodies))
    assert world.services.metadata.live().number == number
    assert planned.value.errors == applied.value.errors
    return list(applied.value.errors)


def test_an_unknown_action_type_names_the_registered_ones(
        isolated_database_url: str, tmp_path: Path) -> None:
    with trigger_world(isolated_database_url, tmp_path) as world:
        errors = refused(world, trigger("typo", "created", {"type": "set_field",
                                                           "params": {"values": {}}}))

        (error,) = errors
        assert (error.source, error.pointer) == ("pack/typo.json", "/actions/0/type")
        assert "unknown action type 'set_field' (did you mean 'set_fields'?)" in error.message
        for name in ("create_record", "send_email", "set_fields", "transition"):
            assert name in error.message


def test_bad_params_point_into_the_document(isolated_database_url: str,
                                            tmp_path: Path) -> None:
    with trigger_world(isolated_database_url, tmp_path) as world:
        errors = refused(world, trigger(
            "bad", "created", create_task("fine"), set_fields(no_such_field=1),
            {"type": "create_record", "params": {"entity": "ghost", "values": {}}}))

        pointers = {(error.source, error.pointer) for error in errors}
        assert ("pack/bad.json", "/actions/1/params/values/no_such_field") in pointers
        assert any(pointer.startswith("/actions/2/params") for _, pointer in pointers)
        assert not any(pointer.startswith("/actions/0") for _, pointer in pointers)


def test_good_actions_apply(isolated_database_url: str, tmp_path: Path) -> None:
    with trigger_world(isolated_database_url, tmp_path) as world:
        applied = world.services.metadata.apply(documents(
            trigger("ok", "created", create_task("Hello {{ record.name }}"))))

        assert applied is not None and "ok" in applied.model.triggers


def test_the_metadata_api_reports_action_errors_as_422(isolated_database_url: str,
                                                       tmp_path: Path) -> None:
    with open_web(isolated_database_url, tmp_path, roles=MODEL,
                  settings_changes={"rate_limit": "100000 per minute"}) as web:
        web.create_user("root", "boss")
        admin = bearer(web.login("root"))
        body = trigger("typo", "created", {"type": "create_task", "params": {}})

        response = web.client.put("/api/v1/meta/trigger/typo", json=body, headers=admin)

        assert response.status_code == 422, response.get_json()
        (error,) = response.get_json()["errors"]
        assert error["pointer"] == "/actions/0/type"
        assert "registered actions" in error["message"]
