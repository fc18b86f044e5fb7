"""Role metadata drives Flask-AppBuilder's roles: created by name, the admin role holds
every FAB permission (it is FAB's AUTH_ROLE_ADMIN), others only self-service, and a new
metadata version takes effect without a restart."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from metacrm.fieldtypes import default_registry
from metacrm.identity.roles import SELF_SERVICE_PERMISSIONS, sync_roles
from metacrm.kernel.errors import ValidationFailed
from metacrm.metadata.documents import Document
from metacrm.metadata.model import CompiledModel
from metacrm.services.metadata.service import MetadataService
from metacrm.storage.engine import create_database_engine
from web_harness import Web, apply_metadata, bearer, open_web, role


@pytest.fixture
def web(isolated_database_url: str, tmp_path: Path) -> Iterator[Web]:
    with open_web(isolated_database_url, tmp_path) as web:
        yield web


def fab_permissions(web: Web) -> dict[str, set[tuple[str, str]]]:
    """FAB role name -> its (permission, view) pairs."""
    with web.app.app_context():
        sm = web.identity.appbuilder.sm
        return {
            r.name: {(pv.permission.name, pv.view_menu.name) for pv in r.permissions}
            for r in sm.get_all_roles()
        }


def all_permission_views(web: Web) -> set[tuple[str, str]]:
    with web.app.app_context():
        sm = web.identity.appbuilder.sm
        return {
            (pv.permission.name, pv.view_menu.name)
            for pv in sm.session.query(sm.permissionview_model).all()
        }


def test_metadata_roles_exist_in_fab_by_name(web: Web) -> None:
    assert {"boss", "clerk", "Public"} <= set(fab_permissions(web))
    assert web.app.config["AUTH_ROLE_ADMIN"] == "boss"


def test_the_admin_role_holds_every_fab_permission_others_self_service(web: Web) -> None:
    permissions = fab_permissions(web)

    assert permissions["boss"] == all_permission_views(web)
    assert permissions["clerk"]
    assert permissions["clerk"] <= SELF_SERVICE_PERMISSIONS


def test_only_the_admin_role_reaches_fabs_user_admin_api(web: Web) -> None:
    web.create_user("root", "boss")
    web.create_user("ann", "clerk")

    as_admin = web.client.get("/api/v1/security/users/", headers=bearer(web.login("root")))
    as_clerk = web.client.get("/api/v1/security/users/", headers=bearer(web.login("ann")))

    assert as_admin.status_code == 200
    assert {u["username"] for u in as_admin.get_json()["result"]} == {"root", "ann"}
    assert as_clerk.status_code == 403
    assert as_clerk.mimetype == "application/problem+json"


def test_a_new_metadata_version_resyncs_roles_without_a_restart(
    web: Web, isolated_database_url: str
) -> None:
    web.create_user("root", "boss")
    web.create_user("ann", "clerk")
    apply_metadata(isolated_database_url, [role("boss"), role("clerk", admin=True),
                                           role("auditor")])

    ann = web.client.get("/api/v1/tokens", headers=bearer(web.login("ann")))
    assert ann.status_code == 200

    permissions = fab_permissions(web)
    assert "auditor" in permissions
    assert permissions["clerk"] == all_permission_views(web)
    assert permissions["boss"] <= SELF_SERVICE_PERMISSIONS
    assert web.app.config["AUTH_ROLE_ADMIN"] == "clerk"
    revoked = web.client.get("/api/v1/security/users/", headers=bearer(web.login("root")))
    assert revoked.status_code == 403


def test_fab_roles_unknown_to_the_metadata_lose_their_permissions(web: Web) -> None:
    with web.app.app_context():
        sm = web.identity.appbuilder.sm
        stray = sm.add_role("Stray", permissions=sm.session.query(sm.permissionview_model).all())
        assert stray.permissions
        public_before = {pv.id for pv in sm.find_role("Public").permissions}
        sync_roles(web.identity.appbuilder, web.identity.metadata.current_model())

    permissions = fab_permissions(web)
    assert permissions["Stray"] <= SELF_SERVICE_PERMISSIONS
    with web.app.app_context():
        sm = web.identity.appbuilder.sm
        assert {pv.id for pv in sm.find_role("Public").permissions} == public_before


def test_syncing_reports_the_roles_it_created(web: Web) -> None:
    model = web.identity.metadata.current_model()
    with web.app.app_context():
        again = sync_roles(web.identity.appbuilder, model)
        nothing = sync_roles(web.identity.appbuilder, CompiledModel())

    assert again.created == ()
    assert again.admin_roles == ("boss",)
    assert nothing.created == () and nothing.admin_roles == ()


def test_a_packs_service_account_role_is_no_role_for_people(isolated_database_url: str,
                                                            tmp_path: Path) -> None:
    """The role an extension pack's service account holds never reaches FAB, so nobody can
    be given it (and uninstalling the pack leaves no FAB role behind)."""
    service_role = Document.from_body(
        role("pack_vat"), source="vat/pack.json",
        pack="vat")
    engine = create_database_engine(isolated_database_url)
    try:
        MetadataService(engine, default_registry()).apply(
            [Document.from_body(body, source=f"{body['name']}.json", pack="test")
             for body in (role("boss", admin=True), role("clerk"))] + [service_role],
            author="test")
    finally:
        engine.dispose()
    with open_web(isolated_database_url, tmp_path, roles=()) as web:
        assert "pack_vat" not in fab_permissions(web)
        with pytest.raises(ValidationFailed, match="service account"):
            web.create_user("mallory", "pack_vat")
        web.create_user("ann", "clerk")  # people's roles still work
