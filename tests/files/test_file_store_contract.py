"""One contract for every `FileStore` adapter: the local folder and an S3-compatible server
(moto's server process on loopback, through boto3)."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from s3_harness import S3Server, s3_server

from metacrm.files.local_store import LocalFileStore
from metacrm.files.s3_store import S3FileStore
from metacrm.kernel.files import CHUNK_SIZE, BlobKeyMismatch, BlobNotFound, FileStore


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    with s3_server() as server:
        yield server


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> FileStore:
    if request.param == "local":
        return LocalFileStore(tmp_path / "files")
    server: S3Server = request.getfixturevalue("s3")
    return S3FileStore(server.new_bucket(), prefix="blobs/", endpoint_url=server.endpoint_url,
                       region="us-east-1", access_key_id="test", secret_access_key="test")


def _key(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_a_blob_comes_back_byte_for_byte_in_bounded_chunks(store: FileStore) -> None:
    data = bytes(range(256)) * (CHUNK_SIZE // 128 + 7)  # a little over two chunks
    key = _key(data)
    assert not store.exists(key)
    store.put(key, io.BytesIO(data), len(data))
    assert store.exists(key)
    chunks = list(store.open(key))
    assert b"".join(chunks) == data
    assert max(len(chunk) for chunk in chunks) <= CHUNK_SIZE


def test_an_empty_blob_and_a_second_put_of_the_same_bytes(store: FileStore) -> None:
    key = _key(b"")
    store.put(key, io.BytesIO(b""), 0)
    store.put(key, io.BytesIO(b""), 0)
    assert b"".join(store.open(key)) == b""


def test_bytes_that_do_not_hash_to_the_key_are_refused_and_not_stored(
        store: FileStore) -> None:
    key = _key(b"the real content")
    with pytest.raises(BlobKeyMismatch):
        store.put(key, io.BytesIO(b"something else"), len(b"something else"))
    assert not store.exists(key)


def test_a_missing_blob_is_not_found_and_deleting_it_is_harmless(store: FileStore) -> None:
    key = _key(b"never stored")
    with pytest.raises(BlobNotFound):
        store.open(key)
    store.delete(key)
    data = b"stored then deleted"
    store.put(_key(data), io.BytesIO(data), len(data))
    store.delete(_key(data))
    assert not store.exists(_key(data))
    with pytest.raises(BlobNotFound):
        store.open(_key(data))


@pytest.mark.parametrize("key", ["../../etc/passwd", "ABC", "a" * 63, "0" * 64 + "/x", ""])
def test_a_key_that_is_not_a_sha256_is_refused(store: FileStore, key: str) -> None:
    with pytest.raises(ValueError, match="not a blob key"):
        store.exists(key)
    with pytest.raises(ValueError, match="not a blob key"):
        store.put(key, io.BytesIO(b"x"), 1)


def test_a_blob_larger_than_an_upload_part_and_a_wrong_one(store: FileStore) -> None:
    data = bytes(range(256)) * (9 * 1024 * 4)  # 9 MiB: a multipart upload on S3
    key = _key(data)
    store.put(key, io.BytesIO(data), len(data))
    assert hashlib.sha256(b"".join(store.open(key))).hexdigest() == key
    wrong = _key(data + b"!")
    with pytest.raises(BlobKeyMismatch):
        store.put(wrong, io.BytesIO(data), len(data))
    assert not store.exists(wrong)
