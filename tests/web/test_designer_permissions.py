"""Designer: the permission matrix and field security — a changed scope and a hidden field
reach the API as soon as the change is applied; admin roles cannot be edited."""

from __future__ import annotations

from pathlib import Path

from screen_harness import entity, field, open_screens
from test_designer_pipelines import apply_preview, previewed_documents

import metacrm.web.designer.permissions  # noqa: F401  (makes the blueprint before the app)
from web_harness import bearer, role

GADGET = entity("gadget", field("title", required=True), field("secret"),
                field("size", "integer"))
CLERK = role("clerk", entities={"gadget": {"read": "own", "create": "all"}})
VIEWER = role("viewer", entities={"gadget": {"read": "all"}})


def test_a_scope_and_a_hidden_field_reach_the_api(isolated_database_url: str,
                                                  tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, GADGET, CLERK, VIEWER) as screens:
        admin = screens.user("root", "boss")
        screens.user("ann", "clerk")
        api = screens.web.client
        admin_token = bearer(screens.web.login("root"))
        created = api.post("/api/v1/records/gadget", headers=admin_token,
                           json={"title": "Lamp", "secret": "42"})
        assert created.status_code == 201, created.get_json()
        path = f"/api/v1/records/gadget/{created.get_json()['data']['id']}"
        ann = bearer(screens.web.login("ann"))
        assert api.get(path, headers=ann).status_code == 404  # not hers: out of scope

        page = admin.text("/app/admin/permissions")
        assert 'data-permission="clerk.gadget.read"' in page
        assert 'data-permission="boss.gadget.read"' not in page and "all (admin)" in page
        response = admin.post("/app/admin/permissions", {
            "perm-clerk-gadget-read": "all", "perm-clerk-gadget-create": "all",
            "perm-viewer-gadget-read": "all"})
        preview = response.get_data(as_text=True)
        assert response.status_code == 200, preview[:2000]
        documents, _ = previewed_documents(preview)
        assert [d["name"] for d in documents] == ["clerk"]  # only the changed role
        apply_preview(admin, preview)
        assert api.get(path, headers=ann).get_json()["data"]["secret"] == "42"

        detail = admin.text("/app/admin/permissions/clerk/gadget")
        assert 'data-field-security="secret"' in detail and "data-criteria-row" in detail
        response = admin.post("/app/admin/permissions/clerk/gadget", {
            "scope-read": "all", "scope-create": "all", "scope-update": "own",
            "field-title": "read_only", "field-secret": "hidden", "field-size": "visible",
            "rules-r0-field": "size", "rules-r0-op": "is_null", "rules-r0-value": "true"})
        preview = response.get_data(as_text=True)
        assert response.status_code == 200, preview[:2000]
        apply_preview(admin, preview)
        clerk = screens.web.app.extensions["metacrm"].metadata.live().model.roles["clerk"]
        permission = clerk.entities["gadget"]
        assert dict(permission.fields) == {"title": "read_only", "secret": "hidden"}
        assert permission.rules == ({"field": "size", "op": "is_null", "value": True},)
        assert permission.update == "own"
        data = api.get(path, headers=ann).get_json()["data"]
        assert data["title"] == "Lamp" and "secret" not in data


def test_bad_rules_are_listed_and_admin_roles_stay_read_only(isolated_database_url: str,
                                                             tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, GADGET, CLERK, VIEWER) as screens:
        admin = screens.user("root", "boss")
        metadata = screens.web.app.extensions["metacrm"].metadata
        live = metadata.live().number
        bad = admin.post("/app/admin/permissions/clerk/gadget", {
            "scope-read": "all", "rules-r0-field": "size", "rules-r0-op": "contains",
            "rules-r0-value": "x"})
        page = bad.get_data(as_text=True)
        assert bad.status_code == 422 and "data-change-error" in page and "/rules/0" in page
        boss = admin.text("/app/admin/permissions/boss/gadget")
        assert "data-admin-role" in boss and "data-field-security" not in boss
        forced = admin.post("/app/admin/permissions/boss/gadget", {"field-secret": "hidden"})
        assert forced.status_code == 422
        unchanged = admin.post("/app/admin/permissions", {"perm-clerk-gadget-read": "own"})
        assert unchanged.status_code == 302  # nothing changed: back to the matrix
        assert metadata.live().number == live


def test_only_admins_edit_permissions(isolated_database_url: str, tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, GADGET, CLERK, VIEWER) as screens:
        clerk = screens.user("ann", "clerk")
        assert clerk.get("/app/admin/permissions").status_code == 403
        assert clerk.get("/app/admin/permissions/clerk/gadget").status_code == 403
        forced = clerk.post("/app/admin/permissions", {"perm-clerk-gadget-read": "all"})
        assert forced.status_code == 403


def test_the_matrix_saves_a_role_without_copying_in_what_a_pack_grants_it(
        isolated_database_url: str, tmp_path: Path) -> None:
    """The matrix shows a role with its grants merged; posting those cells back unchanged
    leaves them in the grant, so uninstalling the granting pack still takes them away."""
    memo = entity("memo", field("title"))
    grant = {"kind": "role_grant", "name": "clerk_memos", "version": 1, "role": "clerk",
             "entities": {"memo": {"read": "own", "create": "all"}}}
    with open_screens(isolated_database_url, tmp_path, GADGET, memo, CLERK, VIEWER,
                      grant) as screens:
        admin = screens.user("root", "boss")
        page = admin.text("/app/admin/permissions")
        assert 'data-permission="clerk.memo.read"' in page

        response = admin.post("/app/admin/permissions", {
            "perm-clerk-gadget-read": "all", "perm-clerk-gadget-create": "all",
            "perm-clerk-memo-read": "own", "perm-clerk-memo-create": "all",
            "perm-clerk-memo-update": "none", "perm-clerk-memo-delete": "none",
            "perm-clerk-memo-export": "none", "perm-clerk-memo-import": "none"})
        preview = response.get_data(as_text=True)
        assert response.status_code == 200, preview[:2000]
        [clerk] = previewed_documents(preview)[0]
        assert sorted(clerk["entities"]) == ["gadget"]
        apply_preview(admin, preview)
        role = screens.web.app.extensions["metacrm"].metadata.live().model.roles["clerk"]
        assert (role.entities["gadget"].read, role.entities["memo"].read) == ("all", "own")
