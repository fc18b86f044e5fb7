"""Designer: pipelines — a new pipeline with states, transitions and guards becomes live
(with the state field its entity needs); mistakes are listed on the preview."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

from screen_harness import Browser, entity, field, open_screens

import metacrm.web.designer.pipelines  # noqa: F401  (makes the blueprint before the app)
from web_harness import role

TICKET = entity("ticket", field("title", required=True), field("priority", "integer"))
AGENT = role("agent", entities={"ticket": {"read": "all", "create": "all", "update": "all"}})
_DOCUMENTS = re.compile(r'name="documents" value="([^"]*)"')
_VERSION = re.compile(r'name="expected_version" value="(\d+)"')


def previewed_documents(page: str) -> tuple[list[dict[str, Any]], int]:
    """The documents and the planned version a preview page would apply."""
    documents = _DOCUMENTS.search(page)
    version = _VERSION.search(page)
    assert documents and version, page[:2000]
    return json.loads(html.unescape(documents.group(1))), int(version.group(1))


def apply_preview(browser: Browser, page: str) -> None:
    documents, version = previewed_documents(page)
    response = browser.post("/app/admin/changes/apply", {
        "documents": json.dumps(documents), "expected_version": str(version),
        "done_url": "/app/admin/pipelines"})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]


def new_pipeline_form(**changes: str) -> dict[str, str]:
    form = {
        "entity": "ticket", "name": "ticket_flow", "label_en": "Ticket flow",
        "label_ru": "Поток заявок", "initial_state": "open", "action": "preview",
        "state-0-name": "open", "state-0-label_en": "Open", "state-0-category": "open",
        "state-0-color": "#2196f3", "state-0-position": "0",
        "state-1-name": "done", "state-1-label_en": "Done", "state-1-label_ru": "Готово",
        "state-1-category": "won", "state-1-locked": "on", "state-1-probability": "100",
        "state-1-position": "1",
        "state-2-name": "", "state-2-position": "2",
        "transition-0-name": "finish", "transition-0-label_en": "Finish",
        "transition-0-from": "open", "transition-0-to": "done",
        "transition-0-required_fields": "title", "transition-0-roles": "agent",
        "transition-0-condition-r0-field": "priority", "transition-0-condition-r0-op": "gte",
        "transition-0-condition-r0-value": "2",
        "transition-0-condition-r1-field": "",
    }
    form.update(changes)
    return form


def test_a_new_pipeline_with_its_state_field_becomes_live(isolated_database_url: str,
                                                          tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, TICKET, AGENT) as screens:
        admin = screens.user("root", "boss")
        editor = admin.text("/app/admin/pipelines/new?entity=ticket")
        assert 'data-action="add-state"' in editor and 'data-action="add-transition"' in editor
        assert "data-criteria-row" in editor and 'data-action="preview"' in editor
        response = admin.post("/app/admin/pipelines/new?entity=ticket", new_pipeline_form())
        page = response.get_data(as_text=True)
        assert response.status_code == 200, page[:3000]
        assert "data-change-plan" in page
        documents, _ = previewed_documents(page)
        assert {(d["kind"], d["name"]) for d in documents} == {("pipeline", "ticket_flow"),
                                                              ("entity", "ticket")}
        apply_preview(admin, page)
        model = screens.web.app.extensions["metacrm"].metadata.live().model
        pipeline = model.pipelines["ticket_flow"]
        assert [s.name for s in pipeline.states] == ["open", "done"]
        assert pipeline.states[1].locked and pipeline.states[1].category == "won"
        finish = pipeline.transitions[0]
        assert (finish.from_states, finish.to_state) == (("open",), "done")
        assert finish.required_fields == ("title",) and finish.roles == ("agent",)
        assert finish.condition == {"field": "priority", "op": "gte", "value": 2}
        state = model.entities["ticket"].field("state")
        assert state is not None and state.option("pipeline") == "ticket_flow"
        listing = admin.text("/app/admin/pipelines")
        assert 'data-pipeline="ticket_flow"' in listing
        edit = admin.text("/app/admin/pipelines/ticket_flow")
        assert 'data-pipeline-state="done"' in edit
        assert 'data-pipeline-transition="finish"' in edit


def test_editing_renames_and_reorders_states(isolated_database_url: str,
                                             tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, TICKET, AGENT) as screens:
        admin = screens.user("root", "boss")
        apply_preview(admin, admin.post("/app/admin/pipelines/new?entity=ticket",
                                        new_pipeline_form()).get_data(as_text=True))
        moved = admin.post("/app/admin/pipelines/ticket_flow", {
            **new_pipeline_form(), "move": "state-1-up"}).get_data(as_text=True)
        assert moved.index('data-pipeline-state="done"') < moved.index(
            'data-pipeline-state="open"')  # moved without a script, nothing previewed yet
        assert "data-change-plan" not in moved
        renamed = new_pipeline_form(**{
            "state-0-original": "open", "state-1-original": "done",
            "state-1-name": "closed", "state-1-position": "0", "state-0-position": "1"})
        page = admin.post("/app/admin/pipelines/ticket_flow", renamed).get_data(as_text=True)
        apply_preview(admin, page)
        pipeline = screens.web.app.extensions["metacrm"].metadata.live().model.pipelines[
            "ticket_flow"]
        assert [s.name for s in pipeline.states] == ["closed", "open"]
        assert pipeline.transitions[0].to_state == "closed"


def test_mistakes_are_listed_and_nothing_is_applied(isolated_database_url: str,
                                                    tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, TICKET, AGENT) as screens:
        admin = screens.user("root", "boss")
        metadata = screens.web.app.extensions["metacrm"].metadata
        live = metadata.live().number
        bad = admin.post("/app/admin/pipelines/new?entity=ticket",
                         new_pipeline_form(**{"transition-0-to": "nowhere"}))
        page = bad.get_data(as_text=True)
        assert bad.status_code == 422 and "data-change-error" in page and "nowhere" in page
        assert "apply-change" not in page
        criteria = admin.post("/app/admin/pipelines/new?entity=ticket", new_pipeline_form(**{
            "transition-0-condition-r0-field": "priority",
            "transition-0-condition-r0-op": "gte",
            "transition-0-condition-r0-value": "not a number"}))
        assert criteria.status_code == 422
        assert "/transitions/0/condition" in criteria.get_data(as_text=True)
        unnamed = admin.post("/app/admin/pipelines/new?entity=ticket",
                             new_pipeline_form(name=""))
        assert unnamed.status_code == 422 and "field-error" in unnamed.get_data(as_text=True)
        assert metadata.live().number == live and "ticket_flow" not in metadata.live(
        ).model.pipelines


def test_only_admins_design_pipelines(isolated_database_url: str, tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, TICKET, AGENT) as screens:
        agent = screens.user("ann", "agent")
        assert agent.get("/app/admin/pipelines").status_code == 403
        assert agent.get("/app/admin/pipelines/new?entity=ticket").status_code == 403
        forced = agent.post("/app/admin/pipelines/new?entity=ticket", new_pipeline_form())
        assert forced.status_code == 403
        anonymous = screens.anonymous().get("/app/admin/pipelines")
        assert anonymous.status_code == 302


def test_update_the_form_keeps_a_transition_row_that_has_no_name_yet(
        isolated_database_url: str, tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, TICKET, AGENT) as screens:
        admin = screens.user("root", "boss")
        form = new_pipeline_form(action="refresh")
        form.update({"state-2-name": "review", "state-2-label_en": "Review",
                     "transition-2001-name": "", "transition-2001-label_en": "Send back",
                     "transition-2001-to": "open", "transition-2001-position": "1"})

        response = admin.post("/app/admin/pipelines/new?entity=ticket", form)

        page = response.get_data(as_text=True)
        assert response.status_code == 200
        rows = page.split('<ol class="rows" data-arrange="transition">', 1)[1].split("</ol>")[0]
        assert 'value="Send back"' in rows  # the nameless row is still there
        drafted = rows.split('value="Send back"', 1)[1].split("</li>", 1)[0]
        assert re.search(r'<option value="open"\s+selected>', drafted)
        assert '<option value="review"' in drafted  # the new state is offered
        # a preview of the same form ignores the row until it has a name
        preview = admin.post("/app/admin/pipelines/new?entity=ticket",
                             {**form, "action": "preview"}).get_data(as_text=True)
        documents, _ = previewed_documents(preview)
        pipeline = next(d for d in documents if d["kind"] == "pipeline")
        assert [t["name"] for t in pipeline["transitions"]] == ["finish"]
