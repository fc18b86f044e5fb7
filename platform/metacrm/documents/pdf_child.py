"""What runs in the PDF render process: WeasyPrint, warmed up once.

Imported by the fork server `metacrm.documents.pdf` starts (its preload), so each render's
process is forked with WeasyPrint, its fonts and its caches ready. External resources are
refused: only `data:` URLs load (images embedded in the template), so a template can neither
read the server's files nor make it call addresses on its network.
"""

from __future__ import annotations

import logging
from multiprocessing.connection import Connection

import weasyprint
from weasyprint.urls import URLFetcher

logging.getLogger("weasyprint").setLevel(logging.ERROR)
logging.getLogger("fontTools").setLevel(logging.ERROR)


def pdf_bytes(html: str) -> bytes:
    fetcher = URLFetcher(allowed_protocols={"data"}, allow_redirects=False, timeout=1)
    document = weasyprint.HTML(string=html, url_fetcher=fetcher, base_url="data:,")
    return bytes(document.write_pdf())


def render(html: str, connection: Connection) -> None:
    """Render `html` and send the PDF (or `ERROR:` and the error) over `connection`."""
    try:
        connection.send_bytes(pdf_bytes(html))
    except Exception as exc:  # reported to the parent, which raises it
        connection.send_bytes(f"ERROR:{type(exc).__name__}: {exc}".encode())
    finally:
        connection.close()


pdf_bytes("<p>warm-up: Привет, world</p>")  # fonts and caches, once per fork server
