"""The antivirus hook in the core: every upload is shown to the registered scanners
(`metacrm.extension.FileScanner`) before its bytes are stored."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from typing import IO

from metacrm.extension.files import FileScanner, ScannedFile
from metacrm.files.uploads import UploadFacts
from metacrm.kernel.errors import ErrorDetail, ValidationFailed
from metacrm.kernel.files import CHUNK_SIZE

_log = logging.getLogger(__name__)

ScannerSource = Callable[[], Sequence[tuple[str, FileScanner]]]
"""The scanners of this process now, (name, scanner), in order."""


class FileRefused(ValidationFailed):
    """A scanner found something in the upload (or could not scan it)."""

    title = "File refused"


def scan(scanners: Sequence[tuple[str, FileScanner]], name: str, facts: UploadFacts,
         stream: IO[bytes], pointer: str = "/file") -> None:
    """Show the upload to each scanner; FileRefused at the first finding or failure.
    The stream is rewound afterwards."""
    if not scanners:
        return

    def chunks() -> Iterator[bytes]:
        stream.seek(0)
        while chunk := stream.read(CHUNK_SIZE):
            yield chunk

    scanned = ScannedFile(name=name, size=facts.size, content_type=facts.content_type,
                          sha256=facts.sha256, chunks=chunks)
    try:
        for scanner_name, scanner in scanners:
            try:
                finding = scanner(scanned)
            except Exception:
                _log.exception("file scanner %r failed on %s", scanner_name, facts.sha256)
                raise FileRefused(
                    f"the file could not be checked by the virus scanner {scanner_name}",
                    [ErrorDetail("the virus scanner failed; try again later", pointer)]
                ) from None
            if finding:
                raise FileRefused(
                    f"the file was refused by the virus scanner {scanner_name}: {finding}",
                    [ErrorDetail(f"infected: {finding}", pointer)])
    finally:
        stream.seek(0)
