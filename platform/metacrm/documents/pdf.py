"""HTML -> PDF with WeasyPrint, each render in its own process with a time limit.

A render runs in a process forked from a fork server that imported WeasyPrint and rendered
once already (`pdf_child`), so starting it costs a fork (tens of milliseconds), not an
import. A render that exceeds `timeout` is killed — a pathological template cannot hold a
worker (the lesson of frappe#34525: print timeouts took a site down). Why WeasyPrint and not
a headless Chromium: docs/architecture.md ("Documents").
"""

from __future__ import annotations

import multiprocessing
import threading
from multiprocessing.connection import Connection

from metacrm.kernel.errors import ErrorDetail, MetacrmError

DEFAULT_TIMEOUT = 30.0
CHILD = "metacrm.documents.pdf_child"
ERROR = b"ERROR:"

_lock = threading.Lock()
_context: multiprocessing.context.ForkServerContext | None = None


class RenderFailed(MetacrmError):
    status = 422
    title = "Document not rendered"


def _fork_server() -> multiprocessing.context.ForkServerContext:
    global _context
    with _lock:
        if _context is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload([CHILD])
            _context = context
        return _context


def render_pdf(html: str, timeout: float = DEFAULT_TIMEOUT) -> bytes:
    """The PDF of `html`; RenderFailed when rendering fails or takes over `timeout`."""
    context = _fork_server()
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(html, sender), daemon=True)
    process.start()
    sender.close()
    try:
        return _receive(receiver, timeout)
    finally:
        receiver.close()
        if process.is_alive():
            process.kill()
        process.join(5)


def _child(html: str, sender: Connection) -> None:
    """The render process's entry (WeasyPrint is imported already: the fork server's
    preload)."""
    from metacrm.documents.pdf_child import render

    render(html, sender)


def _receive(receiver: Connection, timeout: float) -> bytes:
    if not receiver.poll(timeout):
        raise RenderFailed(f"the document took longer than {timeout:g} s to render",
                           [ErrorDetail("simplify the template (fewer pages, smaller "
                                        "images)", "/body")])
    try:
        message = receiver.recv_bytes()
    except EOFError:
        raise RenderFailed("the render process ended without a document",
                           [ErrorDetail("the renderer crashed", "/body")]) from None
    if message.startswith(b"%PDF"):
        return message
    raise RenderFailed("the document could not be rendered", [ErrorDetail(
        message.removeprefix(ERROR).decode("utf-8", "replace")[-500:], "/body")])
