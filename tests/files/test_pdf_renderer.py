"""The PDF render process: renders, gives up past its time limit (and recovers), and never
fetches a resource from the network or the disk."""

from __future__ import annotations

import http.server
import io
import threading
from collections.abc import Iterator

import pytest
from pypdf import PdfReader

from metacrm.documents.pdf import PdfRenderer, RenderFailed


@pytest.fixture(scope="module")
def renderer() -> Iterator[PdfRenderer]:
    found = PdfRenderer()
    yield found
    found._stop()


def text_of(pdf: bytes) -> str:
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_a_page_renders_and_a_slow_one_is_stopped_without_harm(renderer: PdfRenderer) -> None:
    assert "Привет" in text_of(renderer.render("<p>Привет</p>"))
    huge = "<table>" + "<tr><td>x</td></tr>" * 40_000 + "</table>"
    with pytest.raises(RenderFailed, match=r"longer than 0\.2 s"):
        renderer.render(huge, timeout=0.2)
    assert "again" in text_of(renderer.render("<p>again</p>"))


def test_no_resource_is_fetched_from_the_network_or_the_disk(renderer: PdfRenderer) -> None:
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            return

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        pdf = renderer.render(
            f'<link rel="stylesheet" href="{url}/style.css"><img src="{url}/x.png">'
            '<img src="file:///etc/passwd"><p>done</p>')
    finally:
        server.shutdown()
        server.server_close()
    assert "done" in text_of(pdf)
    assert hits == []


def test_text_that_is_not_valid_unicode_renders_instead_of_crashing(
        renderer: PdfRenderer) -> None:
    assert "broken" in text_of(renderer.render("<p>broken \udcff text</p>"))
