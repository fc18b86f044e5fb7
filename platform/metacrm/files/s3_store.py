"""The `FileStore` on any S3-compatible object store (AWS S3, MinIO, Ceph, moto), by boto3.

Objects are named `<prefix><key>`; uploads above 8 MiB are multipart uploads sent one part at
a time (boto3's managed transfer buffers several parts in threads: its memory grew with the
file in bench/files.py), downloads stream the body in chunks, so neither holds more than a
part in memory. boto3 is the optional extra `s3` (`pip install metacrm[s3]`): the
embedded default does not need it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import IO, Any

from metacrm.kernel.files import CHUNK_SIZE, BlobKeyMismatch, BlobNotFound, check_key

MISSING = {"404", "NoSuchKey", "NotFound"}
PART_SIZE = 8 * 1024 * 1024
"""Bytes of one multipart part (S3 wants at least 5 MiB but for the last); the only
buffer an upload holds."""


class _HashingReader:
    """Reads at most `size` bytes from `stream`, hashing them on the way."""

    def __init__(self, stream: IO[bytes], size: int) -> None:
        self.stream = stream
        self.remaining = size
        self.digest = hashlib.sha256()

    def read(self, amount: int = -1) -> bytes:
        if self.remaining <= 0:
            return b""
        amount = self.remaining if amount is None or amount < 0 else min(amount,
                                                                          self.remaining)
        chunk = self.stream.read(amount)
        self.remaining -= len(chunk)
        self.digest.update(chunk)
        return chunk


class S3FileStore:
    """Blobs as objects of one bucket."""

    def __init__(self, bucket: str, *, prefix: str = "", endpoint_url: str | None = None,
                 region: str | None = None, access_key_id: str | None = None,
                 secret_access_key: str | None = None, client: Any = None) -> None:
        self.bucket = bucket
        self.prefix = prefix
        if client is None:
            try:
                import boto3
            except ImportError as exc:  # pragma: no cover - depends on the installation
                raise RuntimeError("METACRM_FILE_STORE=s3 needs boto3: pip install "
                                   "'metacrm[s3]'") from exc
            client = boto3.client("s3", endpoint_url=endpoint_url, region_name=region,
                                  aws_access_key_id=access_key_id,
                                  aws_secret_access_key=secret_access_key)
        self.client = client

    def _name(self, key: str) -> str:
        return self.prefix + check_key(key)

    def put(self, key: str, stream: IO[bytes], size: int) -> None:
        name = self._name(key)
        if self.exists(key):
            return
        reader = _HashingReader(stream, size)
        first = _read_part(reader)
        if reader.remaining == 0:  # one part: a plain PUT
            if reader.digest.hexdigest() != key:
                raise BlobKeyMismatch(f"the bytes written do not hash to {key}")
            self.client.put_object(Bucket=self.bucket, Key=name, Body=first)
            return
        self._put_parts(key, name, reader, first)

    def _put_parts(self, key: str, name: str, reader: _HashingReader, first: bytes) -> None:
        """A multipart upload, one part in memory at a time; aborted unless complete and
        hashing to `key`."""
        upload = self.client.create_multipart_upload(Bucket=self.bucket, Key=name)
        upload_id = upload["UploadId"]
        parts: list[dict[str, Any]] = []
        try:
            chunk = first
            while chunk:
                answer = self.client.upload_part(Bucket=self.bucket, Key=name,
                                                 UploadId=upload_id,
                                                 PartNumber=len(parts) + 1, Body=chunk)
                parts.append({"ETag": answer["ETag"], "PartNumber": len(parts) + 1})
                chunk = _read_part(reader)
            if reader.remaining or reader.digest.hexdigest() != key:
                raise BlobKeyMismatch(f"the bytes written do not hash to {key}")
            self.client.complete_multipart_upload(Bucket=self.bucket, Key=name,
                                                  UploadId=upload_id,
                                                  MultipartUpload={"Parts": parts})
        except BaseException:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=name,
                                               UploadId=upload_id)
            raise

    def open(self, key: str) -> Iterator[bytes]:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._name(key))
        except Exception as exc:
            if _missing(exc):
                raise BlobNotFound(key) from None
            raise
        return _chunks(response["Body"])

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._name(key))
        except Exception as exc:
            if _missing(exc):
                return False
            raise
        return True

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._name(key))


def _read_part(reader: _HashingReader) -> bytes:
    parts: list[bytes] = []
    wanted = PART_SIZE
    while wanted > 0:
        chunk = reader.read(min(CHUNK_SIZE, wanted))
        if not chunk:
            break
        parts.append(chunk)
        wanted -= len(chunk)
    return b"".join(parts)


def _missing(exc: Exception) -> bool:
    response = getattr(exc, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    return str(code) in MISSING


def _chunks(body: Any) -> Iterator[bytes]:
    try:
        yield from body.iter_chunks(CHUNK_SIZE)
    finally:
        body.close()
