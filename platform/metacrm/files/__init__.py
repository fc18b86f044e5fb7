"""Files: the `FileStore` adapters, attachments on records and the `file` field's blobs.

* `local_store` / `s3_store` — the adapters of the port `metacrm.kernel.files.FileStore`;
  `stores.file_store(settings)` picks one from the settings;
* `uploads` — streams an upload to a spool file while hashing, counting and sniffing it;
* `sniffing` — the content type from the bytes (never the client's word);
* `attachments` — rows of `metacrm_attachments`;
* `scanners` — the antivirus hook (scanners registered by packs or features);
* `service` — `FileService`: upload, list, download, delete, signed URLs, purge, every read
  through the access layer's scoped read of the record.
"""
