"""The designer's Packs page: the same plan as `metacrm pack plan`, then the change."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from screen_harness import Screens

import metacrm.web.designer.packs  # noqa: F401  (makes the blueprint before the app)
from metacrm.storage.engine import create_database_engine
from packs_harness import entity, make_lifecycle, manifest, tables, write_pack
from web_harness import open_web, role


def prepare(database_url: str, root: Path) -> None:
    """Pack `base` (the admin role `boss`, a clerk role) installed; `ledger` available."""
    write_pack(root / "packs", manifest("base"), entity("gadget"),
               role("boss", admin=True), role("clerk", entities={"gadget": {"read": "all"}}))
    write_pack(root / "packs", manifest("ledger", depends={"base": ">=1.0"}),
               entity("ledger_entry"))
    engine = create_database_engine(database_url)
    try:
        make_lifecycle(engine, [root / "packs"]).install("base")
    finally:
        engine.dispose()


def record_tables(database_url: str) -> set[str]:
    engine = create_database_engine(database_url)
    try:
        return tables(engine)
    finally:
        engine.dispose()


def test_admin_reviews_then_installs_and_uninstalls_a_pack(isolated_database_url: str,
                                                           tmp_path: Path) -> None:
    prepare(isolated_database_url, tmp_path)
    with open_web(isolated_database_url, tmp_path, roles=(),
                  settings_changes={"rate_limit": "100000 per minute"}) as web:
        screens = Screens(web)
        admin = screens.user("root", "boss")
        listing = admin.text("/app/admin/packs")
        row = listing[listing.index('data-pack="ledger"'):]
        assert 'data-action="install"' in row[:row.index("</tr>")]

        review = admin.text("/app/admin/packs/install/ledger")
        assert "install ledger 1.0.0" in review
        assert "create table crm_ledger_entry" in review
        assert "crm_ledger_entry" not in record_tables(isolated_database_url)

        assert admin.post("/app/admin/packs/install/ledger/apply").status_code == 302
        assert "crm_ledger_entry" in record_tables(isolated_database_url)

        planned = admin.text("/app/admin/packs/uninstall/ledger")
        assert "crm_ledger_entry archived as arch_v" in planned
        assert admin.post("/app/admin/packs/uninstall/ledger/apply").status_code == 302
        assert "crm_ledger_entry" not in record_tables(isolated_database_url)


def test_a_refused_change_shows_its_reasons_and_changes_nothing(isolated_database_url: str,
                                                               tmp_path: Path) -> None:
    prepare(isolated_database_url, tmp_path)
    with open_web(isolated_database_url, tmp_path, roles=(),
                  settings_changes={"rate_limit": "100000 per minute"}) as web:
        screens = Screens(web)
        admin = screens.user("root", "boss")
        admin.post("/app/admin/packs/install/ledger/apply")

        page = admin.get("/app/admin/packs/uninstall/base")

        assert page.status_code == 409
        assert "ledger 1.0.0 depends on base &gt;=1.0" in page.get_data(as_text=True)
        assert "data-action=\"apply-change\"" not in page.get_data(as_text=True)
        refused = admin.post("/app/admin/packs/uninstall/base/apply")
        assert refused.status_code == 409
        assert "crm_gadget" in record_tables(isolated_database_url)


def test_only_admins_with_a_csrf_token_change_packs(isolated_database_url: str,
                                                    tmp_path: Path) -> None:
    prepare(isolated_database_url, tmp_path)
    with open_web(isolated_database_url, tmp_path, roles=(),
                  settings_changes={"rate_limit": "100000 per minute"}) as web:
        screens = Screens(web)
        clerk = screens.user("clara", "clerk")
        assert clerk.get("/app/admin/packs").status_code == 403
        assert clerk.post("/app/admin/packs/install/ledger/apply").status_code == 403
        admin = screens.user("root", "boss")
        forged = admin.client.post("/app/admin/packs/install/ledger/apply", data={})
        assert forged.status_code == 400
        engine = create_database_engine(isolated_database_url)
        try:
            with engine.connect() as connection:
                names = connection.execute(sa.text("SELECT name FROM metacrm_packs")).all()
        finally:
            engine.dispose()
        assert [name for (name,) in names] == ["base"]
