"""The file storage port: where the bytes of attachments and generated documents live.

"The core does not know about S3": attachments, the `file` field type and generated PDFs
keep their metadata in the database and their bytes behind a `FileStore`. A blob is named
by the SHA-256 of its content (64 lower-case hex digits), so the same bytes uploaded twice
are stored once and a stored name tells nothing about the record or the file name. Nothing
serves a store's blobs directly: downloads go through the access layer
(`metacrm.files.service`).

Adapters (`metacrm.files`): the local folder under the instance folder (the embedded
default) and any S3-compatible object store (boto3). Both pass one contract test
(`tests/files/test_file_store_contract.py`); an extension may add more.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import IO, Protocol

BLOB_KEY = re.compile(r"^[0-9a-f]{64}$")
"""The name of a blob: the SHA-256 of its bytes, in lower-case hex."""

CHUNK_SIZE = 1024 * 1024
"""Bytes read or written at a time: streams never hold more than about this in memory."""


class BlobNotFound(LookupError):
    """The store holds no blob of that key."""


class BlobKeyMismatch(ValueError):
    """The bytes written do not hash to the key they were written under."""


class FileStore(Protocol):
    """Content-addressed blobs. Every method is safe to call concurrently; `put` of a key
    that exists already keeps the existing blob (the bytes are the same by definition)."""

    def put(self, key: str, stream: IO[bytes], size: int) -> None:
        """Store `size` bytes read from `stream` under `key` (their SHA-256), reading in
        chunks. Raises BlobKeyMismatch (and stores nothing) when the bytes do not hash to
        `key`."""
        ...

    def open(self, key: str) -> Iterator[bytes]:
        """The blob's bytes in chunks of at most `CHUNK_SIZE`; BlobNotFound when absent.
        The absence is found before the iterator is returned."""
        ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None:
        """Remove the blob (no error when it is absent)."""
        ...


def check_key(key: str) -> str:
    """`key` when it is a blob key; ValueError otherwise (never a path to traverse)."""
    if not isinstance(key, str) or not BLOB_KEY.match(key):
        raise ValueError(f"not a blob key (64 lower-case hex digits): {key!r}")
    return key


__all__ = ["BLOB_KEY", "CHUNK_SIZE", "BlobKeyMismatch", "BlobNotFound", "FileStore",
           "check_key"]
