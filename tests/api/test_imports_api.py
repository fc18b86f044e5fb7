"""The import API: upload, preview, dry run, the run as a job, the error file, revert —
and who may see an import (the permission matrix rows of its read paths)."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
import sqlalchemy as sa
from api_harness import ADMIN_ROLE, Api, entity, field, labels, open_api, pointers, problem
from openpyxl import Workbook

from database_harness import postgres_schema, schema_url
from metacrm.storage.system_tables import audit, outbox
from web_harness import role

URL = "/api/v1/imports"
COMPANY = entity("company", field("name", required=True, unique=True, max_length=100),
                 title_field="name")
CONTACT = entity(
    "contact",
    {"name": "name", "type": "text", "label": {"en": "Full name", "ru": "ФИО"},
     "required": True, "max_length": 100},
    {"name": "email", "type": "email", "label": {"en": "E-mail", "ru": "Почта"},
     "unique": True},
    {"name": "age", "type": "integer", "label": {"en": "Age", "ru": "Возраст"}, "min": 0},
    field("score", "decimal", scale=2),
    field("vip", "boolean"),
    field("born", "date"),
    field("tier", "picklist", choices=[{"value": "gold", "label": {"en": "Gold",
                                                                   "ru": "Золото"}},
                                       {"value": "silver", "label": labels("Silver")}]),
    field("company", "reference", entity="company"),
    field("salary", "integer"),
    title_field="name",
)
CONTACT_RIGHTS = {"read": "all", "create": "all", "update": "all", "delete": "all",
                  "import": "all"}
ROLES = (
    ADMIN_ROLE,
    role("importer", entities={"contact": {**CONTACT_RIGHTS, "fields": {"salary": "hidden"}},
                               "company": {"read": "all", "create": "all",
                                           "delete": "all"}}),
    role("clerk", entities={"contact": {"read": "all", "create": "all", "update": "all"}}),
)
PEOPLE = ("name;email;age;score;vip;born;tier;company\n"
          "Анна Петрова;anna@example.com;34;1 234,5;да;31.12.1990;Золото;Acme\n"
          "Boris Ivanov;boris@example.com;41;7,25;нет;01.02.1983;silver;Acme\n")


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    root = tmp_path_factory.mktemp("imports_api")
    url = os.environ.get("METACRM_TEST_DATABASE_URL") or f"sqlite:///{root / 'test.db'}"
    with ExitStack() as stack:
        if url.startswith("postgresql"):
            url = schema_url(url, stack.enter_context(postgres_schema(url)))
        api = stack.enter_context(open_api(url, root, COMPANY, CONTACT, *ROLES))
        api.importer = api.user("ivan", "importer")
        api.other = api.user("olga", "importer")
        response = api.client.post("/api/v1/records/company", json={"name": "Acme"},
                                   headers=api.admin)
        assert response.status_code == 201
        yield api


def upload(api: Api, headers: dict[str, str], content: bytes, name: str = "people.csv",
           path: str = URL, **form: Any) -> Any:
    data = {"file": (io.BytesIO(content), name), **{
        key: json.dumps(value) if isinstance(value, dict) else str(value)
        for key, value in form.items()}}
    return api.client.post(path, data=data, headers=headers,
                           content_type="multipart/form-data")


def started(response: Any) -> dict[str, Any]:
    assert response.status_code == 202, response.get_json()
    assert response.headers["Location"] == f"{URL}/{response.get_json()['data']['id']}"
    return dict(response.get_json()["data"])


def contacts(api: Api) -> dict[str, dict[str, Any]]:
    response = api.client.get("/api/v1/records/contact?limit=500", headers=api.admin)
    return {r["email"] or r["name"]: r for r in response.get_json()["data"]}


MAPPING = {"columns": {"name": "name", "email": "email", "age": "age", "score": "score",
                       "vip": "vip", "born": "born", "tier": "tier", "company": "company"},
           "locale": "ru"}


@pytest.fixture(scope="module")
def people(api: Api) -> dict[str, Any]:
    """Анна and Boris, imported once per module (each test that needs them asks)."""
    return started(upload(api, api.importer, "\ufeff".encode() + PEOPLE.encode(),
                          entity="contact", mapping=MAPPING))


def test_preview_reads_a_cp1251_semicolon_file_and_suggests_fields_from_labels(
        api: Api) -> None:
    content = "ФИО;Почта;Возраст;Unrelated\nАнна;a@example.com;3\n".encode("cp1251")
    response = upload(api, api.importer, content, path=f"{URL}/preview", entity="contact")

    assert response.status_code == 200, response.get_json()
    data = response.get_json()["data"]
    assert (data["format"], data["delimiter"]) == ("csv", ";")
    assert data["columns"] == ["ФИО", "Почта", "Возраст", "Unrelated"]
    assert data["rows"][0]["ФИО"] == "Анна"
    assert data["suggested_mapping"]["columns"] == {
        "ФИО": "name", "Почта": "email", "Возраст": "age", "Unrelated": None}


def test_an_import_runs_as_a_job_and_converts_locale_values(
        api: Api, people: dict[str, Any]) -> None:
    data = people
    status = api.client.get(f"{URL}/{data['id']}", headers=api.importer).get_json()["data"]
    assert status["status"] == "completed"
    assert status["counts"]["created"] == 2 and status["counts"]["failed"] == 0
    assert status["progress"] == {"processed": 2, "total": 2, "percent": 100}
    assert status["columns"]["email"] == {"field": "email", "filled": 2, "failed": 0}
    anna = contacts(api)["anna@example.com"]
    assert (anna["name"], anna["age"], anna["score"], anna["vip"], anna["born"],
            anna["tier"]) == ("Анна Петрова", 34, "1234.50", True, "1990-12-31", "gold")
    assert anna["company"] is not None


def test_the_same_file_again_is_the_same_import(api: Api) -> None:
    first = started(upload(api, api.importer, b"name;email\nVera;vera@example.com\n",
                           entity="contact", mapping=MAPPING | {"columns": {
                               "name": "name", "email": "email"}}))
    again = started(upload(api, api.importer, b"name;email\nVera;vera@example.com\n",
                           entity="contact", mapping=MAPPING | {"columns": {
                               "name": "name", "email": "email"}}))

    assert again["id"] == first["id"]
    assert list(contacts(api)).count("vera@example.com") == 1


def test_a_created_record_is_one_audit_row_and_reads_as_fields(
        api: Api, people: dict[str, Any]) -> None:
    record = contacts(api)["anna@example.com"]
    with api.web.identity.engine.connect() as conn:
        rows = conn.execute(sa.select(audit).where(audit.c.record_id == record["id"])).all()
    history = api.client.get(f"/api/v1/records/contact/{record['id']}/history",
                             headers=api.importer).get_json()["data"]

    assert len(rows) == 1 and rows[0].field is None
    assert {entry["field"]: entry["new"] for entry in history}["age"] == 34
    assert "salary" not in {entry["field"] for entry in history}  # hidden from ivan


def test_a_dry_run_validates_every_row_and_writes_nothing(api: Api) -> None:
    before = contacts(api)
    content = (b"name;email;age;tier\n"
               b"Good;good@example.com;5;gold\n"
               b";noname@example.com;5;gold\n"
               b"Bad age;bad@example.com;old;gold\n"
               b"Bad tier;tier@example.com;5;platinum\n")
    data = started(upload(api, api.importer, content, entity="contact", dry_run="true",
                          mapping={"columns": {"name": "name", "email": "email",
                                               "age": "age", "tier": "tier"}}))

    status = api.client.get(f"{URL}/{data['id']}", headers=api.importer).get_json()["data"]
    assert status["dry_run"] and status["status"] == "completed"
    assert status["counts"]["created"] == 1 and status["counts"]["failed"] == 3
    reasons = {error["row"]: error["reason"] for error in status["errors"]}
    assert "name: is required" in reasons[3]
    assert "age: 'old' is not a number" in reasons[4]
    assert "platinum" in reasons[5]
    assert status["columns"]["age"]["failed"] == 1
    assert status["error_file"] is None
    assert contacts(api) == before


def test_failing_rows_go_to_an_error_file_that_imports_once_fixed(
        api: Api, people: dict[str, Any]) -> None:
    content = (b"name,email,company\n"
               b"Fine,fine@example.com,Acme\n"
               b"Lost,lost@example.com,Nowhere Ltd\n"
               b"Dup,anna@example.com,Acme\n")
    mapping = {"columns": {"name": "name", "email": "email", "company": "company"}}
    data = started(upload(api, api.importer, content, entity="contact", mapping=mapping))
    assert data["counts"]["created"] == 1 and data["counts"]["failed"] == 2

    response = api.client.get(data["error_file"], headers=api.importer)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert [row["email"] for row in rows] == ["lost@example.com", "anna@example.com"]
    assert "no company with name 'Nowhere Ltd'" in rows[0]["import_error"]
    assert "unique" in rows[1]["import_error"] or "exists" in rows[1]["import_error"]

    rows[0]["company"] = "Acme"
    rows[1]["email"] = "dup@example.com"
    fixed = io.StringIO()
    writer = csv.DictWriter(fixed, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    again = started(upload(api, api.importer, fixed.getvalue().encode(), "fixed.csv",
                           entity="contact", mapping=mapping))
    assert again["counts"] == {"created": 2, "updated": 0, "unchanged": 0, "failed": 0,
                               "references_created": 0}


def test_upsert_updates_by_key_and_revert_restores_and_deletes(
        api: Api, people: dict[str, Any]) -> None:
    content = (b"email,age,name\n"
               b"anna@example.com,35,\n"
               b"new@example.com,20,Newcomer\n")
    data = started(upload(api, api.importer, content, entity="contact", mode="upsert",
                          key="email", mapping={"columns": {"email": "email", "age": "age",
                                                            "name": "name"}}))
    assert (data["counts"]["created"], data["counts"]["updated"]) == (1, 1)
    assert contacts(api)["anna@example.com"]["age"] == 35
    assert contacts(api)["anna@example.com"]["name"] == "Анна Петрова"  # blank: kept

    reverted = api.client.post(f"{URL}/{data['id']}/revert", headers=api.importer)

    assert reverted.status_code == 200, reverted.get_json()
    assert reverted.get_json()["data"]["status"] == "reverted"
    assert contacts(api)["anna@example.com"]["age"] == 34
    assert "new@example.com" not in contacts(api)
    again = api.client.post(f"{URL}/{data['id']}/revert", headers=api.importer)
    assert problem(again, 409)


def test_silent_mode_publishes_one_completed_event_and_no_record_events(api: Api) -> None:
    engine = api.web.identity.engine
    with engine.connect() as conn:
        before = conn.execute(sa.select(sa.func.count()).select_from(outbox)).scalar_one()
    data = started(upload(api, api.importer, b"name\nQuiet one\nQuiet two\n",
                          entity="contact", silent="true",
                          mapping={"columns": {"name": "name"}}))
    with engine.connect() as conn:
        events = conn.execute(sa.select(outbox.c.type, outbox.c.payload).order_by(
            outbox.c.id)).all()[before:]

    assert [event.type for event in events] == ["import.completed"]
    assert events[0].payload["counts"]["created"] == 2
    assert events[0].payload["import"] == data["id"]


def test_xlsx_files_import_like_csv(api: Api) -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(["Full name", "Age"])
    sheet.append(["Sheet Person", 52])
    out = io.BytesIO()
    book.save(out)
    data = started(upload(api, api.importer, out.getvalue(), "people.xlsx",
                          entity="contact"))

    assert data["counts"]["created"] == 1, data
    assert contacts(api)["Sheet Person"]["age"] == 52


def test_bad_requests_get_problem_documents_naming_the_field(api: Api) -> None:
    no_entity = upload(api, api.importer, b"name\nx\n")
    assert "/entity" in pointers(problem(no_entity, 422))
    bad_mode = upload(api, api.importer, b"name\nx\n", entity="contact", mode="merge")
    assert "/mode" in pointers(problem(bad_mode, 422))
    no_key = upload(api, api.importer, b"name\nx\n", entity="contact", mode="update")
    assert "/key" in pointers(problem(no_key, 422))
    unknown_column = upload(api, api.importer, b"name\nx\n", entity="contact",
                            mapping={"columns": {"nmae": "name"}})
    assert "/mapping/columns/nmae" in pointers(problem(unknown_column, 422))
    hidden = upload(api, api.importer, b"name,salary\nx,5\n", entity="contact",
                    mapping={"columns": {"name": "name", "salary": "salary"}})
    assert "/mapping/columns/salary" in pointers(problem(hidden, 422))
    no_file = api.client.post(URL, data={"entity": "contact"}, headers=api.importer,
                              content_type="multipart/form-data")
    assert "/file" in pointers(problem(no_file, 422))
    bad_header = upload(api, api.importer, b"name,name\nx,y\n", entity="contact")
    assert "/file" in pointers(problem(bad_header, 422))


# --- who may see an import: the permission matrix rows of the import read paths ----------


@pytest.fixture(scope="module")
def ivans_import(api: Api) -> dict[str, Any]:
    return started(upload(api, api.importer, b"name,email\nSecret Row,\nx,not-an-email\n",
                          "secret.csv", entity="contact",
                          mapping={"columns": {"name": "name", "email": "email"}}))


MATRIX = [
    # (who, path, expected status)
    ("ivan", "", 200), ("ivan", "/errors", 200),
    ("olga", "", 404), ("olga", "/errors", 404), ("olga", "/revert", 404),
    ("clerk", "", 404), ("clerk", "/errors", 404),
    ("admin", "", 200), ("admin", "/errors", 200),
]


@pytest.mark.parametrize(("who", "suffix", "status"), MATRIX)
def test_an_import_and_its_error_file_are_its_importers_and_admins(
        api: Api, ivans_import: dict[str, Any], who: str, suffix: str, status: int) -> None:
    headers = {"ivan": api.importer, "olga": api.other, "clerk": api.clerk,
               "admin": api.admin}[who]
    path = f"{URL}/{ivans_import['id']}{suffix}"
    response = (api.client.post(path, headers=headers) if suffix == "/revert"
                else api.client.get(path, headers=headers))

    assert response.status_code == status, response.get_data(as_text=True)
    if status == 404:
        assert "not-an-email" not in response.get_data(as_text=True)


@pytest.mark.parametrize(("who", "path"), [("clerk", "/preview"), ("clerk", ""),
                                           ("anonymous", "/preview"), ("anonymous", "")])
def test_only_roles_with_the_import_right_may_preview_or_import(
        api: Api, who: str, path: str) -> None:
    headers = api.clerk if who == "clerk" else {}
    response = upload(api, headers, b"name\nx\n", path=f"{URL}{path}", entity="contact")

    problem(response, 403 if who == "clerk" else 401)


def test_the_openapi_document_lists_the_import_paths(api: Api) -> None:
    document = api.client.get("/api/v1/openapi.json", headers=api.admin).get_json()

    assert {"/api/v1/imports", "/api/v1/imports/preview", "/api/v1/imports/{import_id}",
            "/api/v1/imports/{import_id}/errors",
            "/api/v1/imports/{import_id}/revert"} <= set(
                document["paths"])


def test_missing_references_are_created_once_and_reverted_with_the_import(api: Api) -> None:
    from metacrm.api import RUNTIME_KEY

    service = api.web.app.extensions[RUNTIME_KEY].services.imports
    service.batch_size = 1  # each row its own batch: references made in an earlier one
    try:
        data = started(upload(api, api.importer,
                              b"name,company\nR1,Newco A\nR2,Newco A\nR3,Newco B\n",
                              entity="contact", mapping={
                                  "columns": {"name": "name", "company": "company"},
                                  "references": {"company": {"create_missing": True}}}))
    finally:
        service.batch_size = 1000
    companies = {r["name"] for r in api.client.get(
        "/api/v1/records/company?limit=100", headers=api.admin).get_json()["data"]}

    assert data["counts"]["created"] == 3 and data["counts"]["references_created"] == 2
    assert {"Newco A", "Newco B"} <= companies
    assert api.client.post(f"{URL}/{data['id']}/revert",
                           headers=api.importer).status_code == 200
    after = {r["name"] for r in api.client.get(
        "/api/v1/records/company?limit=100", headers=api.admin).get_json()["data"]}
    assert not {"Newco A", "Newco B"} & after
    assert "R1" not in contacts(api)


def test_a_batch_large_enough_for_the_set_based_write_keeps_every_check(
        api: Api, people: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches of more than `COPY_MIN_ROWS` rows (written on PostgreSQL with COPY into a
    staging table and one INSERT ... SELECT) store the same values and fail the same rows
    as small ones: a taken unique email (only the database knows) and a bad number."""
    from metacrm.api import RUNTIME_KEY
    from metacrm.storage import repository
    from metacrm.storage.copy_insert import COPY_MIN_ROWS, copy_insert

    copied: list[int] = []

    def counted(conn: Any, table: Any, rows: Any) -> None:
        copy_insert(conn, table, rows)
        copied.append(len(rows))

    monkeypatch.setattr(repository, "copy_insert", counted)
    batch = COPY_MIN_ROWS + 10
    lines = ["name;email;age;score;born;company"]
    for n in range(2 * batch):
        email = "anna@example.com" if n == 17 else f"bulk{n}@example.com"
        age = "old" if n == 40 else str(20 + n % 50)
        lines.append(f"Bulk {n};{email};{age};{n},5;{1 + n % 28:02d}.03.1990;Acme")
    service = api.web.app.extensions[RUNTIME_KEY].services.imports
    service.batch_size = batch
    try:
        data = started(upload(api, api.importer, "\n".join(lines).encode(), "bulk.csv",
                              entity="contact", mapping={**MAPPING, "columns": {
                                  c: c for c in ("name", "email", "age", "score", "born",
                                                 "company")}}))
    finally:
        service.batch_size = 1000
    status = api.client.get(f"{URL}/{data['id']}", headers=api.importer).get_json()["data"]
    assert status["status"] == "completed", status
    assert (status["counts"]["created"], status["counts"]["failed"]) == (2 * batch - 2, 2)
    # the second batch went in by COPY; the first one's taken email made it row by row
    postgres = api.web.identity.engine.dialect.name == "postgresql"
    assert copied == ([batch] if postgres else [])
    failed = {error["row"]: error["reason"] for error in status["errors"]}
    assert set(failed) == {19, 42}  # the header is row 1
    assert "unique" in failed[19] or "exists" in failed[19]
    assert "not a" in failed[42] or "integer" in failed[42]

    stored = contacts(api)
    acme = api.client.get("/api/v1/records/company?filter[name]=Acme",
                          headers=api.admin).get_json()["data"][0]["id"]
    for n in (3, batch + 3):
        record = stored[f"bulk{n}@example.com"]
        assert (record["name"], record["age"], record["score"], record["born"],
                record["company"]) == (f"Bulk {n}", 20 + n % 50, f"{n}.50",
                                       f"1990-03-{1 + n % 28:02d}", acme)
        with api.web.identity.engine.connect() as conn:
            audited = conn.execute(sa.select(sa.func.count()).select_from(audit).where(
                audit.c.record_id == record["id"])).scalar_one()
        assert audited == 1
    assert "bulk17@example.com" not in stored and "bulk40@example.com" not in stored
    error_file = api.client.get(status["error_file"], headers=api.importer)
    failing = list(csv.DictReader(io.StringIO(
        error_file.get_data(as_text=True).lstrip("\ufeff"))))
    assert [(row["name"], row["age"]) for row in failing] == [("Bulk 17", "37"),
                                                              ("Bulk 40", "old")]

    reverted = api.client.post(f"{URL}/{data['id']}/revert", headers=api.importer)
    assert reverted.status_code == 200, reverted.get_json()
    assert not any(email.startswith("bulk") for email in contacts(api))
