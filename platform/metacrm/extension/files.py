"""The antivirus hook: a pack's `FileScanner` sees every upload before it is stored.

`ctx.register_file_scanner(name, scanner)`; each upload (attachments, `file` fields) is
shown to every registered scanner, in registration order, before its bytes reach the file
store. A scanner returning a finding refuses the upload with 422 ("the file was refused by
the virus scanner <name>: <finding>"); a scanner that raises refuses it too (a scanner
that cannot scan must not let files through). Generated documents are not scanned.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class ScannedFile:
    """An upload being scanned: what the client called it, and its bytes."""

    name: str
    size: int
    content_type: str
    """Sniffed from the bytes, not the client's word."""
    sha256: str
    chunks: Callable[[], Iterator[bytes]]
    """The bytes from the start, in chunks of at most 1 MB (call again to re-read)."""


class FileScanner(Protocol):
    def __call__(self, file: ScannedFile) -> str | None:
        """None when the file is clean; else what was found (e.g. `Eicar-Test-Signature`)."""
        ...


__all__ = ["FileScanner", "ScannedFile"]
