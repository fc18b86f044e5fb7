"""The shipped VAT pack (extensions/vat) loaded by the host into a real app: lines saved
through the API get their VAT from the deal's company's country."""

from __future__ import annotations

import json
from pathlib import Path

from pack_harness import (
    ALL,
    Spec,
    entity,
    field_def,
    grants,
    open_world,
    pack_role,
)

from web_harness import bearer, role

VAT_ROOT = Path(__file__).resolve().parents[2] / "extensions" / "vat"
MANIFEST = json.loads((VAT_ROOT / "metacrm_vat" / "pack.json").read_text())

MONEY = {"currency": "EUR", "currencies": ["EUR", "USD"]}
DEAL_LINE = entity(
    "deal_line",
    field_def("deal", "reference", entity="deal", on_delete="cascade", required=True),
    field_def("quantity", "decimal", scale=3, default="1"),
    field_def("unit_price", "money", **MONEY),
    field_def("discount", "percent"),
    field_def("tax_rate", "percent", read_only=True),
    field_def("tax_amount", "money", read_only=True, **MONEY),
    field_def("gross_amount", "money", read_only=True, **MONEY),
)
SELLER = role("seller", entities={"company": ALL, "deal": ALL, "deal_line": ALL})


def _spec(**settings: object) -> Spec:
    return Spec(name="vat", version=MANIFEST["version"], module=MANIFEST["module"],
                root=VAT_ROOT, settings=settings, settings_schema=MANIFEST["settings"],
                permissions={k: frozenset(v) for k, v in MANIFEST["permissions"].items()})


def test_lines_saved_through_the_api_get_their_vat(
        isolated_database_url: str, tmp_path: Path) -> None:
    vat_role = pack_role("vat", deal_line=grants("read", "update"), deal=grants("read"),
                         company=grants("read"))
    with open_world(isolated_database_url, tmp_path, DEAL_LINE, SELLER,
                    vat_role) as world:
        world.web.create_user("sam", "seller")
        seller = bearer(world.web.login("sam"))
        world.host.sync([_spec(rates={"DE": 19}, default_rate=0)])
        assert world.host.failures == {}

        def create(entity_name: str, body: dict[str, object]) -> dict[str, object]:
            response = world.post(f"/api/v1/records/{entity_name}", body, seller)
            assert response.status_code == 201, response.get_json()
            data: dict[str, object] = response.get_json()["data"]
            return data

        company = create("company", {"name": "ACME", "country": "DE"})
        deal = create("deal", {"title": "Big", "company": company["id"]})
        line = create("deal_line", {"deal": deal["id"], "quantity": "3",
                                    "unit_price": {"amount": "10", "currency": "EUR"}})
        assert line["tax_rate"] == "19.00"
        assert line["tax_amount"] == {"amount": "5.70", "currency": "EUR"}
        assert line["gross_amount"] == {"amount": "35.70", "currency": "EUR"}

        changed = world.client.patch(f"/api/v1/records/deal_line/{line['id']}",
                                     json={"discount": "50"}, headers=seller)
        assert changed.status_code == 200, changed.get_json()
        assert changed.get_json()["data"]["gross_amount"] == {"amount": "17.85",
                                                              "currency": "EUR"}

        world.host.sync([_spec(rates={"DE": 19})])  # new settings: reloaded, no default
        other = create("company", {"name": "Elsewhere", "country": "US"})
        far_deal = create("deal", {"title": "Far", "company": other["id"]})
        refused = world.post("/api/v1/records/deal_line",
                             {"deal": far_deal["id"],
                              "unit_price": {"amount": "1", "currency": "EUR"}}, seller)
        assert refused.status_code == 422
        assert [e["pointer"] for e in refused.get_json()["errors"]] == ["/deal"]
