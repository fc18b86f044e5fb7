"""`file_store(settings)`: the `FileStore` adapter the settings pick."""

from __future__ import annotations

from metacrm.files.local_store import LocalFileStore
from metacrm.files.s3_store import S3FileStore
from metacrm.kernel.files import FileStore
from metacrm.settings import Settings


def file_store(settings: Settings) -> FileStore:
    """`METACRM_FILE_STORE=s3`: the bucket of `METACRM_S3_*`; else `<instance>/files`."""
    if settings.file_store == "s3":
        s3 = settings.s3
        if s3 is None:
            raise ValueError("METACRM_FILE_STORE=s3 needs METACRM_S3_BUCKET")
        return S3FileStore(s3.bucket, prefix=s3.prefix, endpoint_url=s3.endpoint_url,
                           region=s3.region, access_key_id=s3.access_key_id,
                           secret_access_key=s3.secret_access_key)
    return LocalFileStore(settings.instance_path / "files")
