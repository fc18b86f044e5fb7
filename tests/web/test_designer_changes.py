"""Designer changes: the plan and the errors are shown first; applying makes one version."""

from __future__ import annotations

import json
from pathlib import Path

from screen_harness import entity, field, open_screens

from metacrm.web.designer.changes import preview_change
from web_harness import role

GADGET = entity("gadget", field("title", required=True))
CLERK = role("clerk", entities={"gadget": {"read": "all"}})


def _apply(browser, documents, version, **extra):  # type: ignore[no-untyped-def]
    return browser.post("/app/admin/changes/apply", {
        "documents": json.dumps(documents), "expected_version": str(version),
        "done_url": "/app/", **extra})


def test_preview_shows_the_plan_then_apply_makes_a_version(isolated_database_url: str,
                                                          tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, GADGET, CLERK) as screens:
        admin = screens.user("root", "boss")
        changed = entity("gadget", field("title", required=True), field("colour"))
        live = screens.web.app.extensions["metacrm"].metadata.live().number
        with screens.web.app.test_request_context("/app/admin/"):
            from metacrm.web.i18n import use_language

            use_language("en")
            page, status = preview_change([changed], title="add colour", back_url="/app/",
                                          done_url="/app/")
        assert status == 200 and "colour" in page and 'data-change-plan' in page
        response = _apply(admin, [changed], live)
        assert response.status_code == 302
        metadata = screens.web.app.extensions["metacrm"].metadata
        assert metadata.live().number == live + 1
        assert metadata.live().model.entity("gadget").has_field("colour")
        stale = _apply(admin, [entity("gadget", field("title"), field("size"))], live)
        assert stale.status_code == 412  # another change landed since this one was planned
        assert not metadata.live().model.entity("gadget").has_field("size")


def test_an_invalid_change_lists_its_errors_and_applies_nothing(
        isolated_database_url: str, tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, GADGET, CLERK) as screens:
        screens.user("root", "boss")
        broken = entity("gadget", field("title", "no_such_type"))
        with screens.web.app.test_request_context("/app/admin/"):
            page, status = preview_change([broken], title="x", back_url="/app/",
                                          done_url="/app/")
        assert status == 422 and "data-change-error" in page and "no_such_type" in page


def test_only_admins_apply_changes(isolated_database_url: str, tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, GADGET, CLERK) as screens:
        clerk = screens.user("ann", "clerk")
        live = screens.web.app.extensions["metacrm"].metadata.live().number
        response = _apply(clerk, [entity("gadget", field("title"), field("x"))], live)
        assert response.status_code == 403
        assert screens.web.app.extensions["metacrm"].metadata.live().number == live
