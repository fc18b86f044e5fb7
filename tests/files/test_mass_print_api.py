"""Mass print: a template's PDFs of the chosen records in one ZIP, rendered in the job queue
as the requester — a record the requester may not read is not printed but named among the
failures, as is one whose template fails; the job and its ZIP are the requester's alone."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest
from files_harness import ADMIN_ROLE, Api, labels, module_api, problem
from pypdf import PdfReader

from web_harness import role

NOTE = {"kind": "entity", "name": "memo", "version": 1, "label": labels("Memo"),
        "title_field": "title",
        "fields": [{"name": "title", "type": "text", "label": labels("Title"),
                    "required": True},
                   {"name": "secret", "type": "text", "label": labels("Secret")},
                   {"name": "pages", "type": "integer", "label": labels("Pages")}]}
SHEET = {"kind": "document_template", "name": "sheet", "version": 1,
         "label": labels("Sheet"), "entity": "memo", "language": "ru",
         "file_name": "Лист {{ record.title }}",
         "body": "<h1>{{ record.title }}</h1><p>{{ record.secret }}</p>"
                 "<p>{{ range(record.pages or 1) | map('string') | join(',') }}</p>"}
REP = role("rep", entities={"memo": {"read": "own", "create": "all", "update": "own",
                                     "delete": "own", "export": "none"}},
           )
OUTSIDER = role("outsider")


class World:
    def __init__(self, api: Api) -> None:
        self.api = api
        self.client = api.client
        self.rita = api.user("rita", "rep")
        self.bob = api.user("bob", "rep")
        self.mine = [self.create(self.rita, f"Мемо {n}") for n in (1, 2)]
        self.same_name = self.create(self.rita, "Мемо 1")
        self.huge = self.create(self.rita, "Огромный", pages=10**9)
        self.bobs = self.create(self.bob, "Bob's")

    def create(self, headers: dict[str, str], title: str, **extra: Any) -> str:
        response = self.client.post("/api/v1/records/memo", json={
            "title": title, "secret": f"secret of {title}", **extra}, headers=headers)
        assert response.status_code == 201, response.get_json()
        return str(response.get_json()["data"]["id"])

    def order(self, headers: dict[str, str], ids: list[str], status: int = 202,
              **body: Any) -> Any:
        response = self.client.post("/api/v1/prints", json={
            "entity": "memo", "template": "sheet", "ids": ids, **body}, headers=headers)
        assert response.status_code == status, response.get_json()
        return response


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("mass-print")
    with module_api(root, ADMIN_ROLE, REP, OUTSIDER, NOTE, SHEET, clerk_role="rep") as api:
        yield World(api)


def pdf_text(data: bytes) -> str:
    return " ".join(" ".join(page.extract_text() for page in PdfReader(
        io.BytesIO(data)).pages).split())


def test_a_rep_prints_the_chosen_records_into_one_zip(world: World) -> None:
    ids = [*world.mine, world.same_name]
    ordered = world.order(world.rita, ids)
    status = world.client.get(ordered.headers["Location"], headers=world.rita)
    job = status.get_json()["data"]
    assert job["status"] == "done", job
    assert (job["records"], job["printed"], job["failures"]) == (3, 3, [])
    assert job["file"]["content_type"] == "application/zip"
    content = world.client.get(f"/api/v1/prints/{job['id']}/content", headers=world.rita)
    assert content.status_code == 200
    assert content.headers["Content-Type"] == "application/zip"
    assert "attachment" in content.headers["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(content.data))
    names = sorted(archive.namelist())
    assert names == sorted(["Лист Мемо 1.pdf", "Лист Мемо 2.pdf",
                            f"Лист Мемо 1 {world.same_name}.pdf"])
    assert "secret of Мемо 2" in pdf_text(archive.read("Лист Мемо 2.pdf"))


def test_records_out_of_sight_or_failing_are_named_and_the_rest_printed(
        world: World) -> None:
    ids = [world.mine[0], world.bobs, "01a00000-0000-7000-8000-000000000000", world.huge]
    job = world.client.get(world.order(world.rita, ids).headers["Location"],
                           headers=world.rita).get_json()["data"]
    assert job["status"] == "done" and job["printed"] == 1
    failed = {item["id"]: item["reason"] for item in job["failures"]}
    assert set(failed) == set(ids[1:])
    assert "not found" in failed[world.bobs]
    assert failed[world.huge]  # a template over its limits says why
    archive = zipfile.ZipFile(io.BytesIO(world.client.get(
        f"/api/v1/prints/{job['id']}/content", headers=world.rita).data))
    assert sorted(archive.namelist()) == ["errors.txt", "Лист Мемо 1.pdf"]
    assert world.bobs in archive.read("errors.txt").decode()
    assert "secret of Bob's" not in " ".join(
        pdf_text(archive.read(name)) for name in archive.namelist() if name.endswith(".pdf"))


def test_nothing_printable_fails_the_job_without_a_file(world: World) -> None:
    job = world.order(world.rita, [world.bobs]).get_json()["data"]
    assert job["status"] == "failed" and job["file"] is None and job["printed"] == 0
    missing = world.client.get(f"/api/v1/prints/{job['id']}/content", headers=world.rita)
    assert missing.status_code == 404


def test_a_job_and_its_zip_are_the_requester_s_alone(world: World) -> None:
    job = world.order(world.rita, world.mine).get_json()["data"]
    for headers in (world.bob, world.api.admin):
        for path in (f"/api/v1/prints/{job['id']}", f"/api/v1/prints/{job['id']}/content"):
            response = world.client.get(path, headers=headers)
            assert response.status_code == 404, path
    assert world.client.get(f"/api/v1/prints/{job['id']}").status_code == 401


def test_bad_orders_are_refused_naming_the_problem(world: World) -> None:
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"ids": []}, 422, "/ids"),
        ({"ids": [world.mine[0], world.mine[0]]}, 422, "/ids/1"),
        ({"ids": [7]}, 422, "/ids/0"),
        ({"ids": ["x"] * 201}, 422, "/ids"),
        ({"ids": world.mine, "template": "nope"}, 422, "/template"),
        ({"ids": world.mine, "entity": "nothing"}, 404, ""),
    ]
    for body, status, pointer in cases:
        response = world.client.post("/api/v1/prints", json={
            "entity": "memo", "template": "sheet", **body}, headers=world.rita)
        answer = problem(response, status)
        if pointer:
            assert pointer in [e["pointer"] for e in answer["errors"]], answer
    extra = world.client.post("/api/v1/prints", json={"entity": "memo", "template": "sheet",
                                                      "ids": world.mine, "x": 1},
                              headers=world.rita)
    assert extra.status_code == 422
    outsider = world.api.user("otto", "outsider")
    assert world.order(outsider, world.mine, status=403)
