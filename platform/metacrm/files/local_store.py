"""The embedded `FileStore`: a folder (default `<instance>/files`), one file per blob.

A blob lives at `<root>/<k[0:2]>/<k[2:4]>/<key>`; it is written to a temporary file in the
root and renamed into place once its hash checked out, so a crash never leaves a partial
blob under a real key. The folder is never served: downloads stream through the access
layer.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from metacrm.kernel.files import CHUNK_SIZE, BlobKeyMismatch, BlobNotFound, check_key


class LocalFileStore:
    """Blobs in a local folder."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        check_key(key)
        return self.root / key[:2] / key[2:4] / key

    def put(self, key: str, stream: IO[bytes], size: int) -> None:
        target = self._path(key)
        if target.exists():
            return
        self.root.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        handle, temp_name = tempfile.mkstemp(prefix=".upload-", dir=self.root)
        try:
            with os.fdopen(handle, "wb") as out:
                remaining = size
                while remaining > 0:
                    chunk = stream.read(min(CHUNK_SIZE, remaining))
                    if not chunk:
                        break
                    digest.update(chunk)
                    out.write(chunk)
                    remaining -= len(chunk)
            if remaining or digest.hexdigest() != key:
                raise BlobKeyMismatch(f"the bytes written do not hash to {key}")
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(temp_name, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp_name)

    def open(self, key: str) -> Iterator[bytes]:
        try:
            handle = self._path(key).open("rb")
        except FileNotFoundError:
            raise BlobNotFound(key) from None
        return _chunks(handle)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(key).unlink()


def _chunks(handle: IO[bytes]) -> Iterator[bytes]:
    with handle:
        while chunk := handle.read(CHUNK_SIZE):
            yield chunk
