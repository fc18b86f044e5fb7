"""The file store the settings pick, and the refusals of bad storage settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from metacrm.files.local_store import LocalFileStore
from metacrm.files.s3_store import S3FileStore
from metacrm.files.stores import file_store
from metacrm.settings import Settings


def test_the_default_is_a_folder_under_the_instance(tmp_path: Path) -> None:
    settings = Settings.from_env({"METACRM_INSTANCE_PATH": str(tmp_path)})
    store = file_store(settings)
    assert isinstance(store, LocalFileStore)
    assert store.root == tmp_path.resolve() / "files"
    assert settings.upload_max_bytes == 100 * 1024 * 1024


def test_s3_settings_are_read_and_give_the_s3_store() -> None:
    settings = Settings.from_env({
        "METACRM_FILE_STORE": "s3", "METACRM_S3_BUCKET": "crm-files",
        "METACRM_S3_ENDPOINT_URL": "http://127.0.0.1:9000", "METACRM_S3_REGION": "eu-1",
        "METACRM_S3_ACCESS_KEY_ID": "key", "METACRM_S3_SECRET_ACCESS_KEY": "s3-credential-x",
        "METACRM_S3_PREFIX": "blobs/", "METACRM_UPLOAD_MAX_BYTES": "1048576"})
    assert settings.s3 is not None and settings.s3.bucket == "crm-files"
    assert "s3-credential-x" not in repr(settings) and "s3-credential-x" not in repr(settings.s3)
    store = file_store(settings)
    assert isinstance(store, S3FileStore)
    assert (store.bucket, store.prefix) == ("crm-files", "blobs/")
    assert settings.upload_max_bytes == 1048576


@pytest.mark.parametrize(("env", "named"), [
    ({"METACRM_FILE_STORE": "ftp"}, "METACRM_FILE_STORE"),
    ({"METACRM_FILE_STORE": "s3"}, "METACRM_S3_BUCKET"),
    ({"METACRM_UPLOAD_MAX_BYTES": "0"}, "METACRM_UPLOAD_MAX_BYTES"),
    ({"METACRM_UPLOAD_MAX_BYTES": "10MB"}, "METACRM_UPLOAD_MAX_BYTES"),
])
def test_bad_storage_settings_are_refused_by_name(env: dict[str, str], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        Settings.from_env(env)
