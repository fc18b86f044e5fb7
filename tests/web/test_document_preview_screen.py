"""The designer's document template preview: an admin picks a template and a real record
and sees the rendered page in a sandboxed frame with its own strict policy; a template
error or a missing record is said on the page; nobody else may open it. (The permission
matrix row of this screen: admin → 200, rep and the record's owner → 403, on both the page
and the frame.)"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from screen_harness import Screens, entity, field, labels, open_screens

from database_harness import postgres_schema, schema_url
from web_harness import role

FOLDER = entity("folder", field("title", required=True), field("secret", "text"),
                title_field="title", search_fields=["title"])
COVER = {"kind": "document_template", "name": "cover", "version": 1,
         "label": labels("Cover sheet", "Титульный лист"), "entity": "folder",
         "language": "ru", "styles": "h1 { color: #123456; }",
         "body": "<h1>{{ record.title }}</h1><p>{{ record.secret }}</p>"
                 "<script>alert(1)</script>"}
# Words, not digits: a page's random CSP nonce may hold any short run of digits.
SECRET = "vault-combination-seven"
REP = role("rep", entities={"folder": {"read": "own", "create": "all", "update": "own"}})


class World:
    def __init__(self, screens: Screens) -> None:
        self.screens = screens
        self.admin = screens.user("root", "boss")
        self.ann = screens.user("ann", "rep")
        created = self.ann.post("/app/r/folder/new", {"title": "Папка <b>", "secret": SECRET})
        assert created.status_code == 302, created.get_data(as_text=True)[:500]
        self.record_id = created.headers["Location"].rstrip("/").split("/")[-1]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root: Path = tmp_path_factory.mktemp("document-preview")
    url = os.environ.get("METACRM_TEST_DATABASE_URL") or f"sqlite:///{root / 'test.db'}"
    with ExitStack() as stack:
        if url.startswith("postgresql"):
            url = schema_url(url, stack.enter_context(postgres_schema(url)))
        yield World(stack.enter_context(open_screens(url, root, FOLDER, COVER, REP)))


def test_an_admin_picks_a_template_then_a_record_and_sees_it_rendered(world: World) -> None:
    start = world.admin.text("/app/admin/")
    assert 'href="/app/admin/documents"' in start
    page = world.admin.text("/app/admin/documents")
    assert '<option value="cover"' in page and "Cover sheet (folder, ru)" in page
    assert 'data-lookup=' not in page  # the record box comes with a chosen template
    chosen = world.admin.text("/app/admin/documents?template=cover")
    assert 'data-lookup="/app/lookup/folder"' in chosen
    shown = world.admin.get(f"/app/admin/documents?template=cover&record={world.record_id}")
    assert shown.status_code == 200
    text = shown.get_data(as_text=True)
    frame = re.search(r'<iframe class="document-preview" sandbox [^>]*src="([^"]+)"', text)
    assert frame, text
    assert 'data-lookup-title="Папка &lt;b&gt;"' in text
    nonce = re.search(r"script-src 'self' 'nonce-([^']+)'",
                      shown.headers["Content-Security-Policy"])
    assert nonce and "frame-ancestors 'none'" in shown.headers["Content-Security-Policy"]

    rendered = world.admin.get(frame.group(1).replace("&amp;", "&"))
    assert rendered.status_code == 200
    policy = rendered.headers["Content-Security-Policy"]
    assert policy.startswith("sandbox;") and "default-src 'none'" in policy
    assert "script-src" not in policy and "frame-ancestors 'self'" in policy
    assert rendered.headers["X-Frame-Options"] == "SAMEORIGIN"
    document = rendered.get_data(as_text=True)
    assert "<h1>Папка &lt;b&gt;</h1>" in document and f"<p>{SECRET}</p>" in document
    assert "#123456" in document


def test_a_missing_record_or_template_is_said_plainly(world: World) -> None:
    missing = world.admin.get("/app/admin/documents?template=cover&record=nope")
    assert missing.status_code == 404
    assert "data-preview-error" in missing.get_data(as_text=True)
    assert world.admin.get("/app/admin/documents/frame?template=cover&record=nope"
                           ).status_code == 404
    assert world.admin.get(f"/app/admin/documents/frame?template=none&record="
                           f"{world.record_id}").status_code == 404


def test_the_preview_is_in_russian_for_a_russian_admin(world: World) -> None:
    page = world.admin.get("/app/admin/documents?template=cover",
                           headers={"Accept-Language": "ru"}).get_data(as_text=True)
    assert "Предпросмотр документа" in page and "Шаблон документа" in page


@pytest.mark.parametrize("user", ["ann", "bob"])
def test_only_administrators_may_preview(world: World, user: str) -> None:
    browser = world.ann if user == "ann" else world.screens.user("bob", "rep")
    for path in ("/app/admin/documents",
                 f"/app/admin/documents?template=cover&record={world.record_id}",
                 f"/app/admin/documents/frame?template=cover&record={world.record_id}"):
        response = browser.get(path)
        assert response.status_code == 403, path
        assert SECRET not in response.get_data(as_text=True)


def test_the_pdf_preview_is_printed_in_the_job_queue_and_offered(world: World) -> None:
    import io
    import zipfile

    from pypdf import PdfReader

    page = world.admin.text(f"/app/admin/documents?template=cover&record={world.record_id}")
    assert "data-preview-pdf" in page
    started = world.admin.post("/app/admin/documents/pdf", {
        "template": "cover", "record": world.record_id})
    assert started.status_code == 302
    job_page = started.headers["Location"]
    assert job_page.startswith("/app/prints/")
    assert "1 of 1 records printed" in world.admin.text(job_page)
    archive = zipfile.ZipFile(io.BytesIO(world.admin.get(f"{job_page}/download").data))
    [name] = archive.namelist()
    text = PdfReader(io.BytesIO(archive.read(name))).pages[0].extract_text()
    assert "Папка <b>" in text and SECRET in text
    assert world.ann.post("/app/admin/documents/pdf", {
        "template": "cover", "record": world.record_id}).status_code == 403
