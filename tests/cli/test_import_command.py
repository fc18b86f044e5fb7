"""`metacrm import` on the Maven CRM sales data set (../shared/datasets): accounts ->
companies, products -> products, opportunities -> deals with their stages mapped and the
sales agents as owners; a second upsert import changes nothing; an error file, fixed,
imports cleanly; an import that died resumes from its last committed batch."""

from __future__ import annotations

import csv
import io
import json
import os
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from database_harness import postgres_schema, schema_url
from datasets_harness import MAVEN, dataset_folder
from metacrm.cli.main import main
from metacrm.composition import build_services
from metacrm.imports.service import ImportRequest
from metacrm.settings import Settings
from metacrm.storage.engine import create_database_engine
from metacrm.storage.system_tables import audit
from web_harness import open_web


def dataset() -> Path:
    """The Maven data set's folder (skips, or fails in CI, when it is not there)."""
    return dataset_folder(MAVEN, "sales_pipeline.csv")


STAGES = {"Prospecting": "qualification", "Engaging": "needs_analysis", "Won": "won",
          "Lost": "lost"}
SECTORS = {"technolgy": "software", "medical": "healthcare", "entertainment": "other",
           "marketing": "other", "telecommunications": "other", "employment": "other",
           "services": "other"}


def login_of(agent: str) -> str:
    return agent.lower().replace(" ", ".")


def agents() -> list[str]:
    with (dataset() / "sales_teams.csv").open(encoding="utf-8", newline="") as handle:
        return [row["sales_agent"] for row in csv.DictReader(handle)]


class Shell:
    """A database made by `metacrm init` with the shipped packs, the sales agents as users,
    and the mappings of the data set's files."""

    def __init__(self, root: Path, url: str) -> None:
        self.root = root
        self.url = url
        self.env = {"METACRM_DATABASE_URL": url,
                    "METACRM_INSTANCE_PATH": str(root / "instance"),
                    "METACRM_ADMIN_USER": "admin",
                    "METACRM_ADMIN_PASSWORD": "admin password 123",
                    "METACRM_REDIS_URL": ""}
        self.maps = {
            "companies": {"columns": {"account": "name", "sector": "industry",
                                      "employees": "employees", "revenue": "annual_revenue"},
                          "values": {"industry": SECTORS}},
            "products": {"columns": {"product": "name", "series": "description",
                                     "sales_price": "price"}},
            "deals": {"columns": {"opportunity_id": "title", "account": "company",
                                  "deal_stage": "stage", "close_date": "close_date",
                                  "close_value": "amount", "sales_agent": "owner"},
                      "values": {"stage": STAGES, "company": {"": "Unknown account"},
                                 "owner": {agent: login_of(agent) for agent in agents()}},
                      "references": {"company": {"by": "name", "create_missing": True}},
                      "owner": {"by": "username"}},
        }
        for name, body in self.maps.items():
            (root / f"{name}.json").write_text(json.dumps(body), encoding="utf-8")

    def run(self, *args: str) -> Result:
        result = CliRunner().invoke(main, list(args), env=self.env, catch_exceptions=False)
        return result

    def scalar(self, statement: Any) -> Any:
        engine = create_database_engine(self.url)
        try:
            with engine.connect() as conn:
                return conn.execute(statement).scalar_one()
        finally:
            engine.dispose()

    def rows(self, statement: Any) -> list[Any]:
        engine = create_database_engine(self.url)
        try:
            with engine.connect() as conn:
                return list(conn.execute(statement))
        finally:
            engine.dispose()


@pytest.fixture(scope="module")
def shell(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shell]:
    root = tmp_path_factory.mktemp("maven")
    url = os.environ.get("METACRM_TEST_DATABASE_URL") or f"sqlite:///{root / 'crm.db'}"
    with ExitStack() as stack:
        if url.startswith("postgresql"):
            url = schema_url(url, stack.enter_context(postgres_schema(url)))
        shell = Shell(root, url)
        assert shell.run("init").exit_code == 0
        with open_web(url, root, roles=()) as web:
            for agent in agents():
                web.create_user(login_of(agent), "sales_rep")
        yield shell


@pytest.fixture(scope="module")
def loaded(shell: Shell) -> dict[str, Result]:
    """The three files imported once, in order (the deals silently: no triggers)."""
    return {
        "companies": shell.run("import", "company", str(dataset() / "accounts.csv"),
                               "--mapping", str(shell.root / "companies.json")),
        "products": shell.run("import", "product", str(dataset() / "products.csv"),
                              "--mapping", str(shell.root / "products.json")),
        "deals": shell.run("import", "deal", str(dataset() / "sales_pipeline.csv"),
                           "--mapping", str(shell.root / "deals.json"), "--silent",
                           "--save-mapping", "maven"),
    }


def test_the_maven_data_set_imports_through_the_cli(shell: Shell, loaded: dict[str, Result]
                                                    ) -> None:
    for result in loaded.values():
        assert result.exit_code == 0, result.output
    assert "85 created" in loaded["companies"].output
    assert "7 created" in loaded["products"].output
    assert "8800 created, 0 updated, 0 unchanged, 0 failed" in loaded["deals"].output

    with (dataset() / "sales_pipeline.csv").open(encoding="utf-8", newline="") as handle:
        source = list(csv.DictReader(handle))
    stages = Counter(STAGES[row["deal_stage"]] for row in source)
    stored = dict(shell.rows(sa.text("SELECT stage, count(*) FROM crm_deal GROUP BY stage")))
    assert stored == dict(stages)
    assert shell.scalar(sa.text("SELECT count(*) FROM crm_company")) == 86  # + "Unknown"
    assert shell.scalar(sa.text("SELECT count(*) FROM crm_product")) == 7
    first = source[0]
    owner = shell.scalar(sa.text(
        "SELECT u.username FROM crm_deal d JOIN ab_user u ON d.owner = CAST(u.id AS TEXT) "
        "WHERE d.title = :title").bindparams(title=first["opportunity_id"]))
    assert owner == login_of(first["sales_agent"])
    company = shell.scalar(sa.text(
        "SELECT c.name FROM crm_deal d JOIN crm_company c ON d.company = c.id "
        "WHERE d.title = :title").bindparams(title=first["opportunity_id"]))
    assert company == first["account"]


def test_one_audit_row_per_imported_record(shell: Shell, loaded: dict[str, Result]) -> None:
    assert shell.scalar(sa.select(sa.func.count()).select_from(audit).where(
        audit.c.entity == "deal")) == 8800


def test_a_second_upsert_import_changes_nothing(shell: Shell, loaded: dict[str, Result]
                                                ) -> None:
    audit_rows = shell.scalar(sa.select(sa.func.count()).select_from(audit))

    result = shell.run("import", "deal", str(dataset() / "sales_pipeline.csv"),
                       "--mapping", "maven", "--mode", "upsert", "--key", "title",
                       "--silent")

    assert result.exit_code == 0, result.output
    assert "0 created, 0 updated, 8800 unchanged, 0 failed" in result.output
    assert shell.scalar(sa.select(sa.func.count()).select_from(audit)) == audit_rows


def test_bad_rows_yield_an_error_file_that_imports_cleanly_once_fixed(
        shell: Shell, loaded: dict[str, Result]) -> None:
    bad = shell.root / "bad.csv"
    bad.write_text("opportunity_id,sales_agent,product,account,deal_stage,engage_date,"
                   "close_date,close_value\n"
                   "NEW00001,Moses Frase,GTX Pro,Cancity,Won,2017-01-01,2017-02-01,100\n"
                   "NEW00002,Moses Frase,GTX Pro,Cancity,Signed,2017-01-01,2017-02-01,100\n"
                   "NEW00003,Nobody Known,GTX Pro,Cancity,Won,2017-01-01,2017-02-30,1x\n",
                   encoding="utf-8")
    errors = shell.root / "bad-errors.csv"

    result = shell.run("import", "deal", str(bad), "--mapping", "maven", "--silent",
                       "--errors", str(errors))

    assert result.exit_code == 0, result.output
    assert "1 created, 0 updated, 0 unchanged, 2 failed" in result.output
    rows = list(csv.DictReader(io.StringIO(errors.read_text(encoding="utf-8"))))
    assert [row["opportunity_id"] for row in rows] == ["NEW00002", "NEW00003"]
    assert "'Signed' is not a state" in rows[0]["import_error"]
    assert "no active user 'Nobody Known'" in rows[1]["import_error"]
    assert "close_date" in rows[1]["import_error"]
    assert "close_value" in rows[1]["import_error"]

    rows[0]["deal_stage"] = "Won"
    rows[1].update(sales_agent="Moses Frase", close_date="2017-02-28", close_value="10")
    fixed = shell.root / "fixed.csv"
    with fixed.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[k for k in rows[0] if k != "import_error"],
                                extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    again = shell.run("import", "deal", str(fixed), "--mapping", "maven", "--silent")
    assert "2 created, 0 updated, 0 unchanged, 0 failed" in again.output, again.output


def test_a_dry_run_writes_nothing(shell: Shell, loaded: dict[str, Result]) -> None:
    deals = shell.scalar(sa.text("SELECT count(*) FROM crm_deal"))
    result = shell.run("import", "deal", str(dataset() / "sales_pipeline.csv"), "--mapping",
                       "maven", "--dry-run")
    assert "Dry run" in result.output and "8800 created" in result.output
    assert shell.scalar(sa.text("SELECT count(*) FROM crm_deal")) == deals


def test_an_interrupted_import_resumes_from_its_last_committed_batch(
        shell: Shell, loaded: dict[str, Result]) -> None:
    content = ("product,series,sales_price\n" + "".join(
        f"Resumed {n},R,{n}\n" for n in range(25))).encode()
    services = build_services(Settings.from_env(shell.env))
    try:
        service = services.imports
        service.batch_size = 10
        with services.engine.connect() as conn:
            admin = services.subjects.users.find_id(conn, "admin")
        subject = services.subjects.subject_of(str(admin))
        assert subject is not None
        stored = service.start(subject, ImportRequest(
            "product", "resume.csv", content, shell.maps["products"]), run_now=False)
        calls = Counter[str]()
        real_write = service._write_batch

        def dies_on_the_second_batch(*args: Any, **kwargs: Any) -> None:
            calls["write"] += 1
            if calls["write"] == 2:
                raise ConnectionError("the database went away")
            real_write(*args, **kwargs)

        service._write_batch = dies_on_the_second_batch  # type: ignore[method-assign]
        with pytest.raises(ConnectionError):
            service.run(stored.id)
        service._write_batch = real_write  # type: ignore[method-assign]
        assert service.run(stored.id).status == "running"  # the first runner may be alive
        with services.engine.begin() as conn:
            conn.execute(sa.text("UPDATE metacrm_imports SET heartbeat_at = NULL "
                                 "WHERE id = :id").bindparams(id=stored.id))
        finished = service.run(stored.id)
    finally:
        services.close()

    assert finished.status == "completed"
    assert finished.counts["created"] == 25
    assert shell.scalar(sa.text(
        "SELECT count(*) FROM crm_product WHERE name LIKE 'Resumed %'")) == 25
