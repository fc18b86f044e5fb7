"""The report engine on real data: the Maven Analytics "CRM Sales Opportunities" data set
(8,800 opportunities; ../shared/datasets/maven-crm-sales-opportunities/, terms in its
SOURCE.md) loaded into the shipped packs, its figures checked against the same figures
computed here from the CSV files with the standard library.

Mapping (CSV -> shipped packs):

* `accounts.csv` -> `company`: `name` = account, `industry` = sector. The sectors are not
  among the contacts pack's industries, so the test first does what an admin adapting the
  pack would: it adds them as choices of `company.industry` (`technolgy` kept as spelt);
  one company "(no account)" stands for the 1,425 open opportunities without an account
  (`deal.company` is required);
* `products.csv` -> `product`: `name` and `code` = product, `price` = sales_price (USD);
  `GTXPro` in the pipeline is the product `GTX Pro`;
* `sales_teams.csv` -> teams: one per regional office, with one sub-team per manager whose
  members are the manager's sales agents (user ids `agent:<name>`, owners of their deals);
* `sales_pipeline.csv` -> `deal` (`title` = opportunity_id, `owner` = the agent, `amount` =
  close_value in USD, `close_date`) and one `deal_line` per deal (its product, quantity 1);
  `deal_stage` Prospecting -> qualification, Engaging -> proposal, Won -> won, Lost -> lost.

Products and companies are created through the records service's bulk create. The 8,800
deals and their lines are written as a bulk import would: multi-row INSERTs of storage
values into the live metadata's record tables, stages included (the data set has no stage
history, so no transitions) — the per-record work of the records service (audit, outbox,
notifications) is not what this test is about, and would take minutes on the CI machine.
"""

from __future__ import annotations

import csv
import os
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from database_harness import postgres_schema, schema_url
from datasets_harness import dataset_folder as shared_dataset
from metacrm.access.subject import AccessSubject
from metacrm.composition import Services, build_services
from metacrm.fieldtypes import default_registry
from metacrm.kernel.ids import new_id
from metacrm.metadata.documents import Document
from metacrm.metadata.loader import load_documents
from metacrm.services.metadata.service import MetadataService
from metacrm.settings import DEFAULT_METADATA_PATH
from metacrm.storage.engine import create_database_engine
from web_harness import settings_for

DATASET_NAME = "maven-crm-sales-opportunities"
ADMIN = AccessSubject(user_id="u-admin", username="admin", roles=("admin",), is_admin=True)
STAGES = {"Prospecting": "qualification", "Engaging": "proposal", "Won": "won", "Lost": "lost"}
NO_ACCOUNT = "(no account)"
BATCH = 1_000


def dataset_folder() -> Path:
    return shared_dataset(DATASET_NAME, "sales_pipeline.csv")


def read(folder: Path, name: str) -> list[dict[str, str]]:
    with (folder / name).open(newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


def product_name(name: str) -> str:
    return "GTX Pro" if name == "GTXPro" else name


def agent_id(name: str) -> str:
    return f"agent:{name}"


class Maven:
    """The CSV tables and the services of a database they were loaded into."""

    def __init__(self, folder: Path, services: Services) -> None:
        self.services = services
        self.pipeline = read(folder, "sales_pipeline.csv")
        self.accounts = {row["account"]: row for row in read(folder, "accounts.csv")}
        self.products = read(folder, "products.csv")
        self.teams = {row["sales_agent"]: row for row in read(folder, "sales_teams.csv")}
        self.reports = services.reports

    # --- loading -------------------------------------------------------------------------

    def load(self) -> None:
        products = self.create("product", [{"name": p["product"], "code": p["product"],
                                            "price": {"amount": p["sales_price"],
                                                      "currency": "USD"}}
                                           for p in self.products])
        product_ids = {r["name"]: r["id"] for r in products}
        companies = self.create("company", [
            {"name": name, "industry": row["sector"]} for name, row in self.accounts.items()
        ] + [{"name": NO_ACCOUNT}])
        company_ids = {r["name"]: r["id"] for r in companies}
        now = datetime.now(UTC)
        system = {"created_at": now, "updated_at": now, "created_by": ADMIN.user_id,
                  "updated_by": ADMIN.user_id, "version": 1}
        deals, lines = [], []
        for row in self.pipeline:
            deal_id = new_id()
            owner = agent_id(row["sales_agent"])
            deals.append({
                **system, "id": deal_id, "owner": owner, "title": row["opportunity_id"],
                "company": company_ids[row["account"] or NO_ACCOUNT],
                "stage": STAGES[row["deal_stage"]],
                "amount": Decimal(row["close_value"]) if row["close_value"] else None,
                "amount_currency": "USD" if row["close_value"] else None,
                "close_date": date.fromisoformat(row["close_date"])
                if row["close_date"] else None})
            lines.append({**system, "id": new_id(), "owner": owner, "deal": deal_id,
                          "product": product_ids[product_name(row["product"])],
                          "quantity": Decimal(1)})
        records = self.services.records
        tables = self.services.metadata.live().tables
        with records.engine.begin() as conn:
            for entity, rows in (("deal", deals), ("deal_line", lines)):
                for start in range(0, len(rows), BATCH):
                    conn.execute(tables[entity].insert(), rows[start:start + BATCH])
            teams = records.teams
            for office in sorted({t["regional_office"] for t in self.teams.values()}):
                teams.create_team(conn, office)
            for manager, office in sorted({(t["manager"], t["regional_office"])
                                           for t in self.teams.values()}):
                teams.create_team(conn, manager, parent=office)
            for agent, row in self.teams.items():
                teams.add_member(conn, row["manager"], agent_id(agent))

    def create(self, entity: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        created: list[dict[str, Any]] = []
        for start in range(0, len(rows), BATCH):
            created += self.services.records.bulk_create(ADMIN, entity,
                                                         rows[start:start + BATCH])
        return created

    # --- figures from the CSV files ------------------------------------------------------

    def won(self) -> list[dict[str, str]]:
        return [row for row in self.pipeline if row["deal_stage"] == "Won"]

    def run(self, name: str, **parameters: Any) -> dict[str, Any]:
        service = self.reports
        return service.run(ADMIN, service.definition(ADMIN, name), parameters).to_json()

    def adhoc(self, body: dict[str, Any], **parameters: Any) -> dict[str, Any]:
        service = self.reports
        return service.run(ADMIN, service.compile(body), parameters).to_json()


@pytest.fixture(scope="module")
def maven(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Maven]:
    folder = dataset_folder()
    root = tmp_path_factory.mktemp("maven")
    url = os.environ.get("METACRM_TEST_DATABASE_URL") or f"sqlite:///{root / 'maven.db'}"
    if url.startswith("postgresql"):
        with postgres_schema(url) as schema:
            yield from _loaded(folder, schema_url(url, schema), root)
        return
    yield from _loaded(folder, url, root)


def _documents(sectors: set[str]) -> list[Document]:
    """The shipped packs, with the data set's sectors added to the company industries."""
    documents = []
    for document in load_documents([DEFAULT_METADATA_PATH]):
        if document.kind == "entity" and document.name == "company":
            body = dict(document.body)
            fields = [dict(f) for f in body["fields"]]
            industry = next(f for f in fields if f["name"] == "industry")
            known = {c["value"] for c in industry["choices"]}
            industry["choices"] = [*industry["choices"], *(
                {"value": sector, "label": {"en": sector.title(), "ru": sector}}
                for sector in sorted(sectors - known))]
            body["fields"] = fields
            document = replace(document, body=body)
        documents.append(document)
    return documents


def _loaded(folder: Path, url: str, root: Path) -> Iterator[Maven]:
    sectors = {row["sector"] for row in read(folder, "accounts.csv")}
    engine = create_database_engine(url)
    try:
        MetadataService(engine, default_registry()).apply(_documents(sectors), author="test")
    finally:
        engine.dispose()
    services = build_services(settings_for(url, root))
    try:
        maven = Maven(folder, services)
        maven.load()
        yield maven
    finally:
        services.close()


def _amount(value: Any) -> Decimal:
    return Decimal(str(value or 0))


def test_won_revenue_in_total_and_per_account_sector(maven: Maven) -> None:
    expected: dict[str, Decimal] = defaultdict(Decimal)
    for row in maven.won():
        expected[maven.accounts[row["account"]]["sector"]] += Decimal(row["close_value"])

    result = maven.run("won_revenue_by_industry")

    assert _amount(result["totals"]["won_revenue"]) == sum(expected.values()) \
        == Decimal("10005534")
    assert result["totals"]["won_deals"] == len(maven.won())
    assert {row["company_industry"]: _amount(row["won_revenue"])
            for row in result["rows"]} == expected


def test_won_revenue_per_manager_and_regional_office(maven: Maven) -> None:
    by_manager: dict[str, Decimal] = defaultdict(Decimal)
    by_office: dict[str, Decimal] = defaultdict(Decimal)
    by_agent: dict[str, Decimal] = defaultdict(Decimal)
    for row in maven.won():
        team = maven.teams[row["sales_agent"]]
        by_manager[team["manager"]] += Decimal(row["close_value"])
        by_office[team["regional_office"]] += Decimal(row["close_value"])
        by_agent[agent_id(row["sales_agent"])] += Decimal(row["close_value"])

    for manager, total in by_manager.items():
        assert _amount(maven.run("won_revenue_by_owner", team=manager)["totals"][
            "won_revenue"]) == total, manager
    for office, total in by_office.items():
        assert _amount(maven.run("won_revenue_by_owner", team=office)["totals"][
            "won_revenue"]) == total, office
    rows = maven.run("won_revenue_by_owner")["rows"]
    assert {row["owner"]: _amount(row["won_revenue"]) for row in rows} == by_agent


def test_won_revenue_per_quarter_and_month(maven: Maven) -> None:
    by_quarter: dict[str, Decimal] = defaultdict(Decimal)
    by_month: dict[str, Decimal] = defaultdict(Decimal)
    for row in maven.won():
        year, month = int(row["close_date"][:4]), int(row["close_date"][5:7])
        by_quarter[f"{year}-Q{(month - 1) // 3 + 1}"] += Decimal(row["close_value"])
        by_month[row["close_date"][:7]] += Decimal(row["close_value"])

    quarters = maven.adhoc({
        "entity": "deal", "where": {"stage": ["won"]},
        "group_by": [{"field": "close_date", "bucket": "quarter"}],
        "metrics": [{"op": "sum", "field": "amount"}]})
    months = maven.run("won_revenue_by_month")

    assert {r["close_date_quarter"]: _amount(r["sum_amount"])
            for r in quarters["rows"]} == by_quarter
    assert {r["close_date_month"]: _amount(r["won_revenue"])
            for r in months["rows"]} == by_month
    q2 = maven.run("won_revenue_by_month",
                   period={"from": "2017-04-01", "to": "2017-06-30"})
    assert _amount(q2["totals"]["won_revenue"]) == by_quarter["2017-Q2"]


def test_win_rate_per_product(maven: Maven) -> None:
    won: Counter[str] = Counter()
    closed: Counter[str] = Counter()
    for row in maven.pipeline:
        if row["deal_stage"] in ("Won", "Lost"):
            closed[product_name(row["product"])] += 1
            won[product_name(row["product"])] += row["deal_stage"] == "Won"

    result = maven.run("win_rate_by_product")

    rates = {row["product_name"]: (row["won"], row["closed"], row["win_rate"])
             for row in result["rows"]}
    assert rates == {
        product: (won[product], closed[product],
                  format((Decimal(won[product]) / closed[product]).quantize(
                      Decimal("0.0001")), "f"))
        for product in closed}
