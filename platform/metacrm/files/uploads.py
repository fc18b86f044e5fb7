"""Reading an upload once, in chunks: its SHA-256, its size, its first bytes.

The upload is a seekable stream (Werkzeug spools multipart files to a temporary file past
500 KB; generated documents are in memory); it is read once here and rewound, then read
again by the file store. Memory stays at one chunk whatever the size.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import IO

from metacrm.files.sniffing import HEAD_BYTES, sniff
from metacrm.kernel.errors import ErrorDetail, MetacrmError
from metacrm.kernel.files import CHUNK_SIZE


class FileTooLarge(MetacrmError):
    status = 413
    title = "Content too large"


@dataclass(frozen=True, slots=True)
class UploadFacts:
    sha256: str
    size: int
    content_type: str
    head: bytes


def inspect(stream: IO[bytes], *, max_bytes: int, pointer: str = "/file") -> UploadFacts:
    """Hash, count and sniff `stream` (then rewind it); FileTooLarge past `max_bytes`."""
    digest = hashlib.sha256()
    size = 0
    head = b""
    while chunk := stream.read(CHUNK_SIZE):
        if len(head) < HEAD_BYTES:
            head += chunk[:HEAD_BYTES - len(head)]
        size += len(chunk)
        if size > max_bytes:
            raise FileTooLarge(f"the file is larger than {max_bytes} bytes",
                               [ErrorDetail(f"at most {max_bytes} bytes", pointer)])
        digest.update(chunk)
    stream.seek(0)
    return UploadFacts(digest.hexdigest(), size, sniff(head), head)
