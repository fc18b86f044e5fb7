"""The render process: WeasyPrint, warmed up once, rendering the pages it is sent.

External resources are refused: only `data:` URLs load (images embedded in the template),
so a template can neither read the server's files nor make it call addresses on its
network.
"""

from __future__ import annotations

import logging
from multiprocessing.connection import Connection

ERROR = b"ERROR:"
READY = b"READY"


def pdf_bytes(html: str) -> bytes:
    import weasyprint
    from weasyprint.urls import URLFetcher

    fetcher = URLFetcher(allowed_protocols={"data"}, allow_redirects=False, timeout=1)
    document = weasyprint.HTML(string=html, url_fetcher=fetcher, base_url="data:,")
    return bytes(document.write_pdf())


def serve(connection: Connection) -> None:
    """Render each page received until the pipe closes; a failure is sent back as
    `ERROR:<reason>`."""
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    pdf_bytes("<p>warm-up: Привет, <b>world</b></p>")  # fonts and caches, once
    connection.send_bytes(READY)
    while True:
        try:
            page = connection.recv_bytes().decode("utf-8")
        except (EOFError, OSError):
            return
        try:
            connection.send_bytes(pdf_bytes(page))
        except Exception as exc:  # reported to the parent, which raises it
            connection.send_bytes(ERROR + f"{type(exc).__name__}: {exc}".encode())
