"""The metadata history: versions, what each changed, and restoring an old one."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

from screen_harness import Browser, Screens, entity, field, open_screens

import metacrm.web.designer.history  # noqa: F401  (makes the blueprint before the app)
from metacrm.metadata.documents import Document
from metacrm.services.metadata.admin import MetadataAdmin
from metacrm.services.metadata.history import diff_documents, line_diff
from web_harness import role

GADGET = entity("gadget", field("title", required=True))
CLERK = role("clerk", entities={"gadget": {"read": "all"}})

_VERSION = re.compile(r'<input type="hidden" name="expected_version" value="([^"]*)"')


def admin_service(screens: Screens) -> MetadataAdmin:
    return MetadataAdmin(screens.web.app.extensions["metacrm"].metadata)


def live(screens: Screens) -> Any:
    return screens.web.app.extensions["metacrm"].metadata.live()


def add_colour(screens: Screens) -> int:
    """A second version: gadget gets a colour field (the API's way, as an admin would)."""
    change = admin_service(screens).put(
        "entity", "gadget", entity("gadget", field("title", required=True),
                                   field("colour")), author="root", comment="add colour")
    return change.version


def restore(browser: Browser, number: int, page: str, **extra: str) -> Any:
    expected = html.unescape(_VERSION.search(page).group(1))  # type: ignore[union-attr]
    return browser.post(f"/app/admin/history/{number}/restore/apply",
                        {"expected_version": expected, **extra})


def test_history_lists_versions_and_shows_each_diff(isolated_database_url: str,
                                                    tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, GADGET, CLERK) as screens:
        admin = screens.user("root", "boss")
        first = live(screens).number
        second = add_colour(screens)
        page = admin.text("/app/admin/history")
        assert f'data-version="{first}"' in page and f'data-version="{second}"' in page
        assert "add colour" in page and "root" in page
        row = page[page.index(f'data-version="{first}"'):]
        assert 'data-action="restore"' in row[:row.index("</tr>")]
        diff = admin.text(f"/app/admin/history/{second}")
        assert 'data-diff-document="entity/gadget"' in diff
        assert 'data-diff-status="changed"' in diff
        assert re.search(r'class="diff-add">\+ +&#34;name&#34;: &#34;colour&#34;', diff), diff
        assert "add field gadget.colour" in diff  # the plan it applied
        first_page = admin.text(f"/app/admin/history/{first}")
        assert 'data-diff-status="added"' in first_page
        assert admin.get("/app/admin/history/999").status_code == 404


def test_restore_applies_an_old_version_as_a_new_one(isolated_database_url: str,
                                                     tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, GADGET, CLERK) as screens:
        admin = screens.user("root", "boss")
        first = live(screens).number
        second = add_colour(screens)
        page = admin.text(f"/app/admin/history/{first}/restore")
        assert "[destructive] remove field gadget.colour" in page
        assert "data-confirm-destructive" in page and 'data-action="apply-change"' in page
        assert live(screens).number == second  # the preview changes nothing
        refused = restore(admin, first, page)
        assert refused.status_code == 409 and live(screens).number == second
        applied = restore(admin, first, page, confirm_destructive="yes")
        assert applied.status_code == 302
        assert live(screens).number == second + 1
        assert not live(screens).model.entity("gadget").has_field("colour")
        newest = admin_service(screens).versions()[0]
        assert newest.author == "root" and "Restore version" in (newest.comment or "")
        history = admin.text("/app/admin/history")
        assert f'data-version="{second + 1}"' in history
        # a plan made before another change landed is refused, not applied over it
        stale = admin.text(f"/app/admin/history/{second}/restore")
        add_colour(screens)
        assert restore(admin, second, stale).status_code == 412


def test_only_admins_see_the_history(isolated_database_url: str, tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, GADGET, CLERK) as screens:
        clerk = screens.user("ann", "clerk")
        first = live(screens).number
        add_colour(screens)
        for path in ("/app/admin/history", f"/app/admin/history/{first}",
                     f"/app/admin/history/{first}/restore"):
            assert clerk.get(path).status_code == 403, path
        response = clerk.post(f"/app/admin/history/{first}/restore/apply",
                              {"expected_version": str(first + 1),
                               "confirm_destructive": "yes"})
        assert response.status_code == 403
        assert live(screens).model.entity("gadget").has_field("colour")


def test_document_diffs() -> None:
    old = [Document.from_body({"kind": "entity", "name": "a", "x": 1}, source="", pack=""),
           Document.from_body({"kind": "view", "name": "gone"}, source="", pack="")]
    new = [Document.from_body({"kind": "entity", "name": "a", "x": 2}, source="", pack=""),
           Document.from_body({"kind": "role", "name": "fresh"}, source="", pack="")]
    diffs = {(d.kind, d.name): d for d in diff_documents(old, new)}
    assert diffs["entity", "a"].status == "changed"
    assert ("-", '  "x": 1') in [(line.tag, line.text) for line in diffs["entity", "a"].lines]
    assert ("+", '  "x": 2') in [(line.tag, line.text) for line in diffs["entity", "a"].lines]
    assert diffs["view", "gone"].status == "removed"
    assert diffs["role", "fresh"].status == "added"
    assert diff_documents(new, new) == []
    assert line_diff(["a"], ["a"]) == []
