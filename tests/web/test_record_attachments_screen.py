"""The record page's Attachments panel: upload, list, download, remove, generate a PDF —
in English and Russian — and nothing of it for a rep outside the record's scope."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from screen_harness import Browser, Screens, entity, field, labels, open_screens

from web_harness import role

FOLDER = entity("folder", field("title", required=True),
                field("cover", "file", accept=["image/*"]), title_field="title")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
QUOTE = {"kind": "document_template", "name": "cover", "version": 1,
         "label": labels("Cover sheet", "Титульный лист"), "entity": "folder",
         "language": "ru", "body": "<h1>{{ record.title }}</h1>"}
REP = role("rep", entities={"folder": {"read": "own", "create": "all", "update": "own",
                                       "delete": "own", "export": "none"}})


class World:
    def __init__(self, screens: Screens) -> None:
        self.app = screens.web.app
        self.ann = screens.user("ann", "rep")
        self.bob = screens.user("bob", "rep")
        created = self.ann.post("/app/r/folder/new", {"title": "Папка"})
        assert created.status_code == 302, created.get_data(as_text=True)[:500]
        self.page = created.headers["Location"]
        self.record_id = self.page.rstrip("/").split("/")[-1]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root: Path = tmp_path_factory.mktemp("attachments-screen")
    import os

    url = os.environ.get("METACRM_TEST_DATABASE_URL") or f"sqlite:///{root / 'test.db'}"
    from contextlib import ExitStack

    from database_harness import postgres_schema, schema_url

    with ExitStack() as stack:
        if url.startswith("postgresql"):
            url = schema_url(url, stack.enter_context(postgres_schema(url)))
        yield World(stack.enter_context(open_screens(url, root, FOLDER, QUOTE, REP)))


def attachment_link(page: str, name: str) -> str:
    found = re.search(r'href="(/app/r/folder/[^"]+/attachments/[^"]+)" download>'
                      + re.escape(name) + "<", page)
    assert found, "no attachment link on the page"
    return found.group(1)


def upload(browser: Browser, page: str, data: bytes, name: str, field: str = "") -> Any:
    return browser.post(f"{page}/attachments",
                        {"file": (io.BytesIO(data), name), "field": field},
                        content_type="multipart/form-data")


def test_a_file_field_is_chosen_in_the_panel_and_its_types_enforced(world: World) -> None:
    page = world.ann.text(world.page)
    assert '<option value="cover">' in page
    upload(world.ann, world.page, b"not an image", "x.png", "cover")
    assert "cannot be attached to cover" in world.ann.text(world.page)
    upload(world.ann, world.page, PNG, "cover.png", "cover")
    page = world.ann.text(world.page)
    assert 'data-attachment-field="cover"' in page


def test_a_rep_uploads_downloads_and_removes_a_file(world: World) -> None:
    answer = upload(world.ann, world.page, b"hello", "заметка.txt")
    assert answer.status_code == 302
    page = world.ann.text(world.page)
    assert "The file was attached." in page and "заметка.txt" in page
    path = attachment_link(page, "заметка.txt")
    downloaded = world.ann.get(path)
    assert downloaded.status_code == 200 and downloaded.data == b"hello"
    assert downloaded.headers["X-Content-Type-Options"] == "nosniff"
    removed = world.ann.post(f"{path}/delete")
    assert removed.status_code == 302
    page = world.ann.text(world.page)
    assert "The attachment was removed." in page and "заметка.txt" in page  # the timeline
    assert path not in page


def test_the_panel_speaks_russian_and_generates_a_pdf(world: World) -> None:
    world.ann.client.set_cookie("metacrm_language", "ru")
    page = world.ann.text(world.page)
    assert "Вложения" in page and "Сформировать PDF" in page and "Титульный лист" in page
    answer = world.ann.post(f"{world.page}/documents", {"template": "cover"})
    assert answer.status_code == 302
    page = world.ann.text(world.page)
    assert "Документ сформирован." in page
    assert "Сформирован" in page and ".pdf" in page


def test_a_rep_outside_the_scope_gets_nothing_from_the_panel(world: World) -> None:
    upload(world.ann, world.page, b"private", "private.txt")
    page = world.ann.text(world.page)
    path = attachment_link(page, "private.txt")
    assert world.bob.get(world.page).status_code == 404
    assert world.bob.get(path).status_code == 404
    assert world.bob.post(f"{path}/delete").status_code == 404
    assert upload(world.bob, world.page, b"x", "x.txt").status_code == 404
    assert world.bob.post(f"{world.page}/documents", {"template": "cover"}).status_code == 404
    assert world.ann.get(path).status_code == 200



def test_a_file_larger_than_the_apps_request_limit_is_uploaded(world: World) -> None:
    app = world.app
    limit = app.config["MAX_CONTENT_LENGTH"]
    app.config["MAX_CONTENT_LENGTH"] = 1024  # forms' limit, made small; files have their own
    try:
        assert world.ann.post("/app/r/folder/new", {"title": "x" * 2000}).status_code == 413
        answer = upload(world.ann, world.page, b"0123456789abcdef" * 256, "big.bin")
        assert answer.status_code == 302, answer.status_code
    finally:
        app.config["MAX_CONTENT_LENGTH"] = limit
    assert "big.bin" in world.ann.text(world.page)
