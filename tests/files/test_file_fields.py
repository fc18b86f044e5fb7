"""`file` fields: one or many files per field, a size limit and allowed types per field,
the record showing how many files each holds, and clients unable to fake that count."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from files_harness import ADMIN_ROLE, Api, labels, module_api, problem

from web_harness import role

PDF = b"%PDF-1.7\n" + b"1" * 300
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100

CONTRACT = {"kind": "entity", "name": "contract", "version": 1, "label": labels("Contract"),
            "fields": [
                {"name": "title", "type": "text", "label": labels("Title")},
                {"name": "scan", "type": "file", "label": labels("Signed scan"),
                 "accept": ["application/pdf"], "max_size": 1000},
                {"name": "photos", "type": "file", "label": labels("Photos"),
                 "multiple": True, "accept": ["image/*"]}]}
CLERK = role("clerk", entities={"contract": {
    "read": "own", "create": "all", "update": "own", "delete": "own", "export": "none"}})


class World:
    def __init__(self, api: Api) -> None:
        self.api = api
        self.client = api.client
        created = self.client.post("/api/v1/records/contract", json={"title": "C-1"},
                                   headers=api.clerk)
        assert created.status_code == 201, created.get_json()
        self.record = created.get_json()["data"]
        self.base = f"/api/v1/records/contract/{self.record['id']}"

    def upload(self, data: bytes, name: str, field: str | None) -> Any:
        form: dict[str, Any] = {"file": (io.BytesIO(data), name)}
        if field is not None:
            form["field"] = field
        return self.client.post(f"{self.base}/attachments", headers=self.api.clerk,
                                data=form, content_type="multipart/form-data")

    def record_now(self) -> dict[str, Any]:
        data: dict[str, Any] = self.client.get(self.base, headers=self.api.clerk
                                               ).get_json()["data"]
        return data


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with module_api(tmp_path_factory.mktemp("file-fields"), ADMIN_ROLE, CLERK,
                    CONTRACT) as api:
        yield World(api)


def test_a_single_file_field_takes_one_file_of_its_type_and_size(world: World) -> None:
    assert world.record["scan"] is None
    refused = problem(world.upload(b"just text", "scan.pdf", "scan"), 422)
    assert "application/pdf" in refused["errors"][0]["message"]
    problem(world.upload(b"%PDF-1.7\n" + b"1" * 2000, "big.pdf", "scan"), 413)
    uploaded = world.upload(PDF, "scan.pdf", "scan")
    assert uploaded.status_code == 201, uploaded.get_json()
    assert uploaded.get_json()["data"]["field"] == "scan"
    assert world.record_now()["scan"] == 1
    second = problem(world.upload(PDF + b"2", "again.pdf", "scan"), 409)
    assert second["errors"][0]["pointer"] == "/field"


def test_a_multiple_file_field_counts_its_files(world: World) -> None:
    first = world.upload(PNG, "a.png", "photos").get_json()["data"]
    world.upload(PNG + b"b", "b.png", "photos")
    assert world.record_now()["photos"] == 2
    deleted = world.client.delete(f"{world.base}/attachments/{first['id']}",
                                  headers=world.api.clerk)
    assert deleted.status_code == 204
    assert world.record_now()["photos"] == 1
    plain = world.upload(b"notes", "notes.txt", None).get_json()["data"]
    assert plain["field"] is None and world.record_now()["photos"] == 1


def test_clients_cannot_write_the_count_nor_name_another_field(world: World) -> None:
    response = world.client.patch(world.base, json={"photos": 5}, headers=world.api.clerk)
    assert "/photos" in {e["pointer"] for e in problem(response, 422)["errors"]}
    refused = problem(world.upload(PNG, "x.png", "title"), 422)
    assert refused["errors"][0]["pointer"] == "/field"


def test_a_file_field_with_bad_options_is_refused(world: World) -> None:
    broken = {**CONTRACT, "fields": [*CONTRACT["fields"][:1], {
        "name": "scan", "type": "file", "label": labels("Scan"), "accept": ["pdf"]}]}
    response = world.client.put("/api/v1/meta/entity/contract", json=broken,
                                headers=world.api.admin)
    document = problem(response, 422)
    assert any("accept" in error["pointer"] for error in document["errors"]), document
