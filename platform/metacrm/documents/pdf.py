"""HTML -> PDF with WeasyPrint, in a render process of its own, with a time limit.

Each process that renders (a worker; the web app with the inline queue) keeps one render
process (`pdf_child.serve`): started on the first render (importing WeasyPrint and warming
its fonts takes a second or two, once), then handed one page at a time over a pipe, so a
render costs the layout only and its caches stay warm. A render that exceeds `timeout` gets
its process killed — a pathological template cannot hold a worker (the lesson of
frappe#34525: print timeouts took a site down) — and the next render starts a fresh one; so
does a render process that crashed, and one that has rendered `MAX_RENDERS` documents (its
memory is handed back). Why WeasyPrint and not a headless Chromium: docs/architecture.md
("Documents").
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from metacrm.kernel.errors import ErrorDetail, MetacrmError

DEFAULT_TIMEOUT = 30.0
START_TIMEOUT = 120.0
"""Seconds a new render process may take to import WeasyPrint and warm up."""
MAX_RENDERS = 500
ERROR = b"ERROR:"
READY = b"READY"


class RenderFailed(MetacrmError):
    status = 422
    title = "Document not rendered"


class PdfRenderer:
    """One render process, used by one render at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: BaseProcess | None = None
        self._connection: Connection | None = None
        self._renders = 0

    def render(self, html: str, timeout: float = DEFAULT_TIMEOUT) -> bytes:
        """The PDF of `html`; RenderFailed when rendering fails or takes over `timeout`."""
        with self._lock:
            connection = self._ready()
            self._renders += 1
            try:
                connection.send_bytes(html.encode("utf-8", "replace"))
                if not connection.poll(timeout):
                    self._stop()
                    raise RenderFailed(
                        f"the document took longer than {timeout:g} s to render",
                        [ErrorDetail("simplify the template (fewer pages, smaller images)",
                                     "/body")])
                message = connection.recv_bytes()
            except (EOFError, OSError):
                self._stop()
                raise RenderFailed("the render process ended without a document",
                                   [ErrorDetail("the renderer crashed", "/body")]) from None
            if self._renders >= MAX_RENDERS:
                self._stop()
        if message.startswith(b"%PDF"):
            return message
        raise RenderFailed("the document could not be rendered", [ErrorDetail(
            message.removeprefix(ERROR).decode("utf-8", "replace")[-500:], "/body")])

    def _ready(self) -> Connection:
        if self._process is not None and self._connection is not None and \
                self._process.is_alive():
            return self._connection
        self._stop()
        from metacrm.documents.pdf_child import serve

        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe(duplex=True)
        process = context.Process(target=serve, args=(theirs,), daemon=True,
                                  name="metacrm-pdf")
        process.start()
        theirs.close()
        if not ours.poll(START_TIMEOUT) or ours.recv_bytes() != READY:
            process.kill()
            raise RenderFailed("the PDF renderer did not start",
                               [ErrorDetail("WeasyPrint could not be started", "/body")])
        self._process, self._connection, self._renders = process, ours, 0
        return ours

    def _stop(self) -> None:
        process, connection = self._process, self._connection
        self._process = self._connection = None
        if connection is not None:
            connection.close()
        if process is not None:
            if process.is_alive():
                process.kill()
            process.join(5)

    def forget(self) -> None:
        """In a forked child: the parent's render process is not ours to use."""
        self._lock = threading.Lock()
        self._process = self._connection = None


_renderer = PdfRenderer()
os.register_at_fork(after_in_child=_renderer.forget)


def render_pdf(html: str, timeout: float = DEFAULT_TIMEOUT) -> bytes:
    """The PDF of `html`, rendered by this process's render process."""
    return _renderer.render(html, timeout)
