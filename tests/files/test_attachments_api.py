"""Attachments over the API: upload (streamed, sniffed, de-duplicated, scanned), list,
download, signed links, delete — and the permission matrix: a rep outside the record's
scope gets nothing through any path."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from files_harness import Api, module_api, problem

from metacrm.extension import ScannedFile
from metacrm.files.service import RETENTION, FileService

PDF = b"%PDF-1.4\n" + b"0" * 5000 + b"\n%%EOF\n"
LIMIT = 64 * 1024


class World:
    def __init__(self, api: Api) -> None:
        self.api = api
        self.client = api.client
        self.bob = api.user("bob")
        created = self.client.post("/api/v1/records/gadget", json={"title": "Ann's"},
                                   headers=api.clerk)
        assert created.status_code == 201, created.get_json()
        self.record = created.get_json()["data"]["id"]
        self.base = f"/api/v1/records/gadget/{self.record}/attachments"

    @property
    def services(self) -> Any:
        return self.api.services

    @property
    def files(self) -> FileService:
        return self.services.files

    def upload(self, data: bytes, name: str, headers: dict[str, str] | None = None,
               content_type: str = "image/png", path: str | None = None) -> Any:
        return self.client.post(
            path or self.base, headers=headers or self.api.clerk,
            data={"file": (io.BytesIO(data), name, content_type)},
            content_type="multipart/form-data")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("attachments")
    with module_api(root, upload_max_bytes=LIMIT) as api:
        yield World(api)


def test_an_upload_is_sniffed_hashed_and_comes_back_byte_for_byte(world: World) -> None:
    name = "Счёт №1; final.pdf"
    response = world.upload(PDF, name, content_type="image/png")
    assert response.status_code == 201, response.get_json()
    item = response.get_json()["data"]
    assert item["name"] == name
    assert item["size"] == len(PDF)
    assert item["content_type"] == "application/pdf"  # the bytes', not the client's word
    assert item["sha256"] == hashlib.sha256(PDF).hexdigest()

    listed = world.client.get(world.base, headers=world.api.clerk).get_json()["data"]
    assert item["id"] in [entry["id"] for entry in listed]

    download = world.client.get(f"{world.base}/{item['id']}/content",
                                headers=world.api.clerk)
    assert download.status_code == 200
    assert download.data == PDF
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert download.mimetype == "application/pdf"
    disposition = download.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="')
    assert disposition.endswith(
        "filename*=UTF-8''%D0%A1%D1%87%D1%91%D1%82%20%E2%84%961%3B%20final.pdf")
    assert "\n" not in disposition


def test_the_same_bytes_twice_are_stored_once(world: World) -> None:
    data = b"same bytes, two names\n"
    first = world.upload(data, "a.txt").get_json()["data"]
    second = world.upload(data, "b.txt").get_json()["data"]
    assert first["id"] != second["id"] and first["sha256"] == second["sha256"]
    assert first["content_type"] == "text/plain"
    blobs = [p for p in (world.api.web.app.instance_path and
                         Path(world.api.web.app.instance_path) / "files").rglob("*")
             if p.name == first["sha256"]]
    assert len(blobs) == 1


def test_a_path_in_the_file_name_is_dropped(world: World) -> None:
    item = world.upload(b"x", "../../etc/passwd").get_json()["data"]
    assert item["name"] == "passwd"


def test_a_file_over_the_limit_is_refused_with_413(world: World) -> None:
    before = len(world.client.get(world.base, headers=world.api.clerk).get_json()["data"])
    document = problem(world.upload(b"z" * (LIMIT + 1), "big.bin"), 413)
    assert document["errors"][0]["pointer"] == "/file"
    after = len(world.client.get(world.base, headers=world.api.clerk).get_json()["data"])
    assert after == before


def test_an_upload_without_the_file_part_names_it(world: World) -> None:
    response = world.client.post(world.base, headers=world.api.clerk, data={"other": "x"},
                                 content_type="multipart/form-data")
    assert {e["pointer"] for e in problem(response, 422)["errors"]} == {"/file"}
    response = world.client.post(world.base, headers=world.api.clerk, json={"file": "x"})
    assert problem(response, 422)["errors"][0]["pointer"] == "/file"


def test_the_virus_scanner_refuses_an_infected_upload_clearly(world: World) -> None:
    eicar = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
    seen: list[ScannedFile] = []

    def scanner(file: ScannedFile) -> str | None:
        seen.append(file)
        return "Eicar-Test-Signature" if b"EICAR" in b"".join(file.chunks()) else None

    world.files.core_scanners.append(("testscan", scanner))
    try:
        document = problem(world.upload(eicar, "eicar.com"), 422)
        assert "refused by the virus scanner testscan: Eicar-Test-Signature" \
            in document["detail"]
        assert not world.files.store.exists(hashlib.sha256(eicar).hexdigest())
        assert world.upload(b"clean", "clean.txt").status_code == 201
        assert [file.name for file in seen] == ["eicar.com", "clean.txt"]
    finally:
        world.files.core_scanners.clear()


def test_delete_removes_the_attachment_and_the_history_tells(world: World) -> None:
    data = b"to be deleted"
    item = world.upload(data, "gone.txt").get_json()["data"]
    response = world.client.delete(f"{world.base}/{item['id']}", headers=world.api.clerk)
    assert response.status_code == 204
    problem(world.client.get(f"{world.base}/{item['id']}/content", headers=world.api.clerk),
            404)
    assert not world.files.store.exists(item["sha256"])
    history = world.client.get(f"/api/v1/records/gadget/{world.record}/history",
                               headers=world.api.clerk).get_json()["data"]
    actions = [(entry["action"], (entry["new"] or entry["old"] or {}).get("name"))
               for entry in history if entry["action"] in ("attached", "detached")]
    assert ("attached", "gone.txt") in actions and ("detached", "gone.txt") in actions


def test_a_signed_link_opens_without_credentials_until_it_expires(world: World) -> None:
    item = world.upload(b"shared via a link", "link.txt").get_json()["data"]
    answer = world.client.post(f"{world.base}/{item['id']}/signed-url",
                               headers=world.api.clerk, json={"expires_in": 60})
    assert answer.status_code == 200, answer.get_json()
    url = answer.get_json()["data"]["url"]
    path = url.split("localhost", 1)[1]
    opened = world.client.get(path)
    assert opened.status_code == 200 and opened.data == b"shared via a link"
    tampered = path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB")
    problem(world.client.get(tampered), 404)
    later = datetime.now(UTC) + timedelta(seconds=61)
    clock = world.services.clock
    world.services.clock = lambda: later
    try:
        problem(world.client.get(path), 404)
    finally:
        world.services.clock = clock


# --- the permission matrix: a rep outside the record's scope -------------------------------


@pytest.fixture(scope="module")
def attached(world: World) -> dict[str, Any]:
    response = world.upload(b"ann's secret file", "secret.txt")
    assert response.status_code == 201
    item: dict[str, Any] = response.get_json()["data"]
    return item


@pytest.mark.parametrize("path", ["list", "content", "signed-url", "delete", "upload"])
def test_a_rep_outside_the_record_scope_gets_404_on_every_path(
        world: World, attached: dict[str, Any], path: str) -> None:
    one = f"{world.base}/{attached['id']}"
    client, bob = world.client, world.bob
    response = {
        "list": lambda: client.get(world.base, headers=bob),
        "content": lambda: client.get(f"{one}/content", headers=bob),
        "signed-url": lambda: client.post(f"{one}/signed-url", headers=bob, json={}),
        "delete": lambda: client.delete(one, headers=bob),
        "upload": lambda: world.upload(b"intruder", "x.txt", headers=bob),
    }[path]()
    problem(response, 404)
    assert world.client.get(f"{one}/content", headers=world.api.clerk).status_code == 200
    assert world.client.get(f"{one}/content", headers=world.api.admin).status_code == 200


def test_a_signed_link_dies_when_its_signer_loses_the_record(world: World) -> None:
    created = world.client.post("/api/v1/records/gadget", json={"title": "moving"},
                                headers=world.api.clerk).get_json()["data"]
    base = f"/api/v1/records/gadget/{created['id']}/attachments"
    item = world.upload(b"moving file", "m.txt", path=base).get_json()["data"]
    url = world.client.post(f"{base}/{item['id']}/signed-url", headers=world.api.clerk,
                            json={}).get_json()["data"]["url"]
    path = url.split("localhost", 1)[1]
    assert world.client.get(path).status_code == 200
    root_id = _user_id(world, "root")
    moved = world.client.patch(f"/api/v1/records/gadget/{created['id']}",
                               json={"owner": root_id}, headers=world.api.admin)
    assert moved.status_code == 200, moved.get_json()
    problem(world.client.get(path), 404)


def test_a_deleted_record_keeps_its_files_until_the_purge(world: World) -> None:
    created = world.client.post("/api/v1/records/gadget", json={"title": "doomed"},
                                headers=world.api.clerk).get_json()["data"]
    base = f"/api/v1/records/gadget/{created['id']}/attachments"
    data = b"kept a while after the record"
    item = world.upload(data, "kept.txt", path=base).get_json()["data"]
    assert world.client.delete(f"/api/v1/records/gadget/{created['id']}",
                               headers=world.api.clerk).status_code == 204
    problem(world.client.get(f"{base}/{item['id']}/content", headers=world.api.admin), 404)
    now = datetime.now(UTC)
    assert world.files.purge(now) == 0
    assert world.files.store.exists(item["sha256"])
    assert world.files.purge(now + RETENTION + timedelta(minutes=1)) == 1
    assert not world.files.store.exists(item["sha256"])


def _user_id(world: World, username: str) -> str:
    with world.api.web.app.app_context():
        sm = world.api.web.identity.appbuilder.sm
        return str(sm.find_user(username=username).id)
