"""Issue 12's "done when" for packs, end to end: `metacrm pack install extensions/vat` in
another process adds the pack's fields and its interceptor to a running instance without a
restart; a deal line saved through the API gets its tax; `uninstall` archives the columns
and `install` again restores them with their data."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from metacrm.api import RUNTIME_KEY
from metacrm.settings import DEFAULT_METADATA_PATH, REPOSITORY_ROOT
from process_harness import METACRM, PLATFORM, wait_until
from web_harness import Web, bearer, open_web

VAT = REPOSITORY_ROOT / "extensions" / "vat"


class Instance:
    """A running app (this process) and the `metacrm` command (other processes) on one
    database, with the shipped packs installed."""

    def __init__(self, web: Web, env: dict[str, str]) -> None:
        self.web = web
        self.env = env
        web.create_user("root", "admin")
        self.auth = bearer(web.login("root"))

    def command(self, *args: str) -> str:
        done = subprocess.run([*METACRM, *args], env=self.env, capture_output=True, text=True,
                              timeout=300, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def create(self, entity: str, **values: Any) -> dict[str, Any]:
        response = self.web.client.post(f"/api/v1/records/{entity}", json=values,
                                        headers=self.auth)
        assert response.status_code == 201, response.get_json()
        return dict(response.get_json()["data"])

    def loads(self, pack: str) -> bool:
        """Whether the running app has `pack` loaded after serving one more request (each
        request first checks whether the installed packs changed)."""
        self.web.client.get("/api/v1/notifications", headers=self.auth)
        return pack in self.web.app.extensions[RUNTIME_KEY].services.packs.loaded()

    def get(self, entity: str, record_id: str) -> dict[str, Any]:
        response = self.web.client.get(f"/api/v1/records/{entity}/{record_id}",
                                       headers=self.auth)
        assert response.status_code == 200, response.get_json()
        return dict(response.get_json()["data"])


@pytest.fixture
def instance(isolated_database_url: str, tmp_path: Path) -> Iterator[Instance]:
    env = {**os.environ, "PYTHONPATH": str(PLATFORM),
           "METACRM_DATABASE_URL": isolated_database_url,
           "METACRM_INSTANCE_PATH": str(tmp_path / "instance"),
           "METACRM_METADATA_PATH": str(DEFAULT_METADATA_PATH),
           "METACRM_SECRET_KEY": "test-secret-key-that-is-long-enough-for-hs256"}
    subprocess.run([*METACRM, "init"], env=env, check=True, capture_output=True, timeout=300)
    with open_web(isolated_database_url, tmp_path, roles=(),
                  settings_changes={"metadata_paths": (DEFAULT_METADATA_PATH,),
                                    "secret_key": env["METACRM_SECRET_KEY"]},
                  RATELIMIT_ENABLED=False) as web:
        yield Instance(web, env)


TAXES = ("tax_rate", "tax_amount", "gross_amount")


def test_vat_installs_into_a_running_instance_and_comes_back_after_uninstall(
        instance: Instance) -> None:
    company = instance.create("company", name="Acme GmbH")
    deal = instance.create("deal", title="Roof", company=company["id"])
    product = instance.create("product", name="Tiles", code="T1",
                              price={"amount": "10", "currency": "EUR"})

    instance.command("pack", "install", str(VAT))
    instance.command("pack", "settings", "vat", "--set", "default_rate=19")
    wait_until(lambda: instance.loads("vat"), what="the running app loads the vat pack")

    line = instance.create("deal_line", deal=deal["id"], product=product["id"], quantity="3",
                           unit_price={"amount": "10", "currency": "EUR"})
    taxed = {name: line[name] for name in TAXES}
    assert taxed == {"tax_rate": "19.00",
                     "tax_amount": {"amount": "5.70", "currency": "EUR"},
                     "gross_amount": {"amount": "35.70", "currency": "EUR"}}
    quote = instance.create("quote", deal=deal["id"])  # its lines' formulas use the rate
    quoted = instance.create("quote_line", quote=quote["id"], product=product["id"],
                             quantity="3", unit_price={"amount": "10", "currency": "EUR"})
    assert (quoted["tax_rate"], quoted["tax_amount"], quoted["total"]) == (
        "19.00", {"amount": "5.70", "currency": "EUR"}, {"amount": "35.70", "currency": "EUR"})

    removed = instance.command("pack", "uninstall", "vat")
    assert "archived as arch_v" in removed and "data kept" in removed
    wait_until(lambda: not instance.loads("vat"), what="the running app unloads vat")
    assert not set(TAXES) & set(instance.get("deal_line", line["id"]))

    restored = instance.command("pack", "install", "vat")
    assert "restore field deal_line.tax_amount" in restored
    wait_until(lambda: instance.loads("vat"), what="the running app loads vat again")
    assert {name: instance.get("deal_line", line["id"])[name] for name in TAXES} == taxed
