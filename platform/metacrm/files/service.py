"""`FileService`: attachments on records, every read and write through the access layer.

* Upload: the caller must be allowed to update the record (`ScopedRepository.load_for`
  "update": NotFound outside their read scope, Forbidden when they may only read it). The
  bytes are hashed, counted and sniffed in one pass, shown to the antivirus hook, put in the
  file store under their SHA-256 (stored once however often uploaded), and the row and its
  audit entry (`attached`) commit together.
* List, download, signed link: the caller's scoped read of the record (`ScopedRepository.get`)
  — the one place access is decided; an attachment of a record they cannot read does not
  exist for them.
* Delete: update rights on the record; generated documents are immutable (Conflict). The
  blob goes when no attachment holds it any more.
* Records deleted keep their files until the purge (`purge`, a periodic task): it marks the
  files of records that are gone and removes them `RETENTION` later.
"""

from __future__ import annotations

import io
import logging
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import IO

import sqlalchemy as sa

from metacrm.access.subject import AccessSubject
from metacrm.access.system_records import SystemRecords
from metacrm.extension.files import FileScanner
from metacrm.fieldtypes.files import FileCount
from metacrm.files import attachments, scanners, signing
from metacrm.files.attachments import Attachment
from metacrm.files.sniffing import accepted
from metacrm.files.uploads import inspect
from metacrm.kernel.errors import Conflict, ErrorDetail, NotFound, ValidationFailed
from metacrm.kernel.files import BlobNotFound, FileStore
from metacrm.kernel.ids import new_id
from metacrm.metadata.model import EntityDef
from metacrm.services.records.service import RecordsService
from metacrm.services.records.unit_of_work import write_transaction
from metacrm.storage import audit
from metacrm.storage.system_tables import FILE_NAME_LENGTH

_log = logging.getLogger(__name__)

FILE_FIELD_TYPE = "file"
RETENTION = timedelta(days=30)
"""How long the files of a deleted record are kept before the purge removes them."""
PURGE_EVERY = timedelta(hours=1)
PURGE_BATCH = 500
SIGNED_URL_TTL = timedelta(minutes=5)
MAX_SIGNED_URL_TTL = timedelta(hours=1)
_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\]")

SubjectOf = Callable[[str], AccessSubject | None]


def clean_name(name: str | None) -> str:
    """A file name safe to store and to show: no directories, no control characters,
    NFC, at most 255 characters (the extension kept), never empty."""
    text = unicodedata.normalize("NFC", name or "")
    text = text.replace("\\", "/").rsplit("/", 1)[-1]
    text = _UNSAFE.sub("", text).strip().strip(".") or "file"
    if len(text) > FILE_NAME_LENGTH:
        stem, dot, ext = text.rpartition(".")
        ext = ext[:16] if dot else ""
        text = (stem if dot else text)[:FILE_NAME_LENGTH - len(ext) - 1] + (
            "." + ext if ext else "")
    return text


class FileService:
    """Attachments of records (`services.files`)."""

    def __init__(self, engine: sa.Engine, records: RecordsService, store: FileStore, *,
                 secret: Callable[[], str], subject_of: SubjectOf,
                 scanners: scanners.ScannerSource, max_bytes: int,
                 clock: Callable[[], datetime]) -> None:
        self.engine = engine
        self.records = records
        self.store = store
        self._secret = secret
        self._subject_of = subject_of
        self._scanners = scanners
        self.max_bytes = max_bytes
        self.clock = clock
        self._last_purge: datetime | None = None
        self.core_scanners: list[tuple[str, FileScanner]] = []
        """Scanners of in-tree features (packs register theirs through the pack host)."""

    # --- access (the scoped repository decides) -------------------------------------------

    def _readable(self, conn: sa.Connection, subject: AccessSubject, entity: str,
                  record_id: str) -> None:
        self.records.runtime().scoped(subject).get(conn, entity, record_id)

    def _writable(self, conn: sa.Connection, subject: AccessSubject, entity: str,
                  record_id: str) -> EntityDef:
        scoped = self.records.runtime().scoped(subject)
        scoped.load_for(conn, entity, record_id, "update")
        return self.records.visible_entity(subject, entity)

    # --- commands ---------------------------------------------------------------------------

    def upload(self, subject: AccessSubject, entity: str, record_id: str, stream: IO[bytes],
               filename: str | None, *, field: str | None = None) -> Attachment:
        """Attach the bytes of `stream` (seekable) to the record, or to its file `field`."""
        with self.engine.connect() as conn:
            entity_def = self._writable(conn, subject, entity, record_id)
            conn.rollback()
        limit, accept = self._limits(entity_def, field)
        name = clean_name(filename)
        facts = inspect(stream, max_bytes=limit)
        if not accepted(facts.content_type, accept):
            raise ValidationFailed(
                f"a {facts.content_type} file cannot be attached to {field}",
                [ErrorDetail(f"must be one of {', '.join(accept)}; the file is "
                             f"{facts.content_type}", "/file")])
        scanners.scan((*self.core_scanners, *self._scanners()), name, facts, stream)
        self.store.put(facts.sha256, stream, facts.size)
        item = Attachment(
            id=new_id(), entity=entity, record_id=record_id, field=field, name=name,
            size=facts.size, content_type=facts.content_type, sha256=facts.sha256,
            template=None, uploaded_by=subject.user_id, uploaded_at=self.clock())
        with write_transaction(self.engine) as conn:
            entity_def = self._writable(conn, subject, entity, record_id)
            if field is not None:
                self._check_room(conn, entity_def, record_id, field)
            self._add(conn, item)
            if field is not None:
                self._recount(conn, entity, record_id, field, subject.user_id)
        if not self.store.exists(item.sha256):  # a purge removed it meanwhile: put it back
            stream.seek(0)
            self.store.put(item.sha256, stream, item.size)
        return item

    def add_document(self, conn: sa.Connection, entity: str, record_id: str, content: bytes,
                     name: str, template: str, actor: str | None, *,
                     attachment_id: str | None = None) -> Attachment:
        """Keep a generated document (in the caller's transaction): immutable, audited."""
        facts = inspect(io.BytesIO(content), max_bytes=max(self.max_bytes, len(content)))
        self.store.put(facts.sha256, io.BytesIO(content), facts.size)
        item = Attachment(
            id=attachment_id or new_id(), entity=entity, record_id=record_id, field=None,
            name=clean_name(name), size=facts.size, content_type=facts.content_type,
            sha256=facts.sha256, template=template, uploaded_by=actor,
            uploaded_at=self.clock())
        self._add(conn, item)
        return item

    def readable_attachment(self, subject: AccessSubject, entity: str, record_id: str,
                            attachment_id: str) -> Attachment:
        """An attachment of a record `subject` may read (NotFound otherwise)."""
        with self.engine.connect() as conn:
            self._readable(conn, subject, entity, record_id)
            return self._attachment(conn, entity, record_id, attachment_id)

    def copy_to(self, conn: sa.Connection, item: Attachment, entity: str, record_id: str,
                actor: str | None) -> Attachment:
        """`item` attached to another record too (in the caller's transaction), sharing its
        stored bytes — e.g. a quote's PDF sent with an email keeps a copy on the message."""
        copy = replace(item, id=new_id(), entity=entity, record_id=record_id, field=None,
                       template=None, uploaded_by=actor, uploaded_at=self.clock())
        self._add(conn, copy)
        return copy

    def delete(self, subject: AccessSubject, entity: str, record_id: str,
               attachment_id: str) -> None:
        with write_transaction(self.engine) as conn:
            self._writable(conn, subject, entity, record_id)
            item = self._attachment(conn, entity, record_id, attachment_id)
            if item.immutable:
                raise Conflict("a generated document cannot be deleted",
                               [ErrorDetail(f"generated from the template {item.template}; "
                                            "documents are kept as issued", "")])
            attachments.remove(conn, item.id)
            audit.write_entries(conn, [audit.AuditEntry(
                entity, record_id, "detached", item.field, _summary(item), None,
                subject.user_id, self.clock())])
            if item.field is not None:
                self._recount(conn, entity, record_id, item.field, subject.user_id)
        self._forget_blob(item.sha256)

    # --- reads ------------------------------------------------------------------------------

    def list(self, subject: AccessSubject, entity: str, record_id: str) -> list[Attachment]:
        with self.engine.connect() as conn:
            self._readable(conn, subject, entity, record_id)
            return attachments.for_record(conn, entity, record_id)

    def open(self, subject: AccessSubject, entity: str, record_id: str, attachment_id: str
             ) -> tuple[Attachment, Iterator[bytes]]:
        """The attachment and its bytes (streamed from the file store)."""
        with self.engine.connect() as conn:
            self._readable(conn, subject, entity, record_id)
            item = self._attachment(conn, entity, record_id, attachment_id)
        return item, self._content(item)

    def signed_url_token(self, subject: AccessSubject, entity: str, record_id: str,
                         attachment_id: str, ttl: timedelta = SIGNED_URL_TTL
                         ) -> tuple[str, datetime]:
        """A download token for the attachment valid for `ttl` (at most an hour), and when
        it expires. Only a signed-in user may ask (the link is checked as them later)."""
        if subject.user_id is None:
            raise NotFound(f"{entity} record {record_id} does not exist")
        ttl = min(ttl, MAX_SIGNED_URL_TTL)
        with self.engine.connect() as conn:
            self._readable(conn, subject, entity, record_id)
            item = self._attachment(conn, entity, record_id, attachment_id)
        expires_at = self.clock() + ttl
        return signing.sign(self._secret(), item.id, subject.user_id, expires_at), expires_at

    def open_signed(self, token: str) -> tuple[Attachment, Iterator[bytes]]:
        """The attachment a signed link names, while the link is valid and its signer may
        still read the record; NotFound otherwise."""
        link = signing.verify(self._secret(), token, self.clock())
        gone = NotFound("this download link is invalid or has expired",
                        [ErrorDetail("ask for a new link", "/token")])
        signer = self._subject_of(link.signer)
        if signer is None:
            raise gone
        with self.engine.connect() as conn:
            item = attachments.by_id(conn, link.attachment_id)
            if item is None:
                raise gone
            try:
                self._readable(conn, signer, item.entity, item.record_id)
            except NotFound:
                raise gone from None
        return item, self._content(item)

    # --- the purge ---------------------------------------------------------------------------

    def purge_task(self, now: datetime) -> None:
        """The scheduler's `files.purge`: at most once per `PURGE_EVERY` in a process."""
        if self._last_purge is not None and now - self._last_purge < PURGE_EVERY:
            return
        self._last_purge = now
        self.purge(now)

    def purge(self, now: datetime) -> int:
        """Mark the files of records that are gone; remove those marked `RETENTION` ago.
        Returns how many attachments were removed."""
        runtime = self.records.runtime()
        with write_transaction(self.engine) as conn:
            by_entity: dict[str, list[str]] = {}
            for entity, record_id in attachments.records_with_files(conn):
                by_entity.setdefault(entity, []).append(record_id)
            for entity, ids in by_entity.items():
                gone = ids if entity not in runtime.model.entities else [
                    record_id for batch in _batches(ids, PURGE_BATCH)
                    for record_id in _missing(conn, runtime.access.system, entity, batch)]
                if gone:
                    attachments.mark_orphaned(conn, entity, gone, now)
            expired = attachments.orphaned_before(conn, now - RETENTION)
            for item in expired:
                attachments.remove(conn, item.id)
        for blob in {item.sha256 for item in expired}:
            self._forget_blob(blob)
        return len(expired)

    # --- helpers ------------------------------------------------------------------------------

    def _limits(self, entity_def: EntityDef, field: str | None) -> tuple[int, tuple[str, ...]]:
        if field is None:
            return self.max_bytes, ()
        fdef = entity_def.field(field)
        if fdef is None or fdef.type != FILE_FIELD_TYPE:
            raise ValidationFailed(f"{entity_def.name} has no file field {field!r}",
                                   [ErrorDetail("not a file field of this entity", "/field")])
        max_size = fdef.option("max_size")
        limit = min(self.max_bytes, max_size) if isinstance(max_size, int) else self.max_bytes
        accept = fdef.option("accept")
        return limit, tuple(str(a) for a in accept) if isinstance(accept, list | tuple) else ()

    def _check_room(self, conn: sa.Connection, entity_def: EntityDef, record_id: str,
                    field: str) -> None:
        fdef = entity_def.field(field)
        if fdef is None or fdef.option("multiple") is True:
            return
        held = attachments.for_record(conn, entity_def.name, record_id, field=field,
                                      any_field=False)
        if held:
            raise Conflict(f"{field} holds one file and has one already",
                           [ErrorDetail("delete the file it holds first", "/field")])

    def _recount(self, conn: sa.Connection, entity: str, record_id: str, field: str,
                 actor: str | None) -> None:
        """The file field's count of files, as the engine writes it."""
        entity_def = self.records.runtime().model.entity(entity)
        fdef = entity_def.field(field) if entity_def is not None else None
        if fdef is None or fdef.type != FILE_FIELD_TYPE:
            return  # the field was dropped since: its files stay plain attachments
        held = len(attachments.for_record(conn, entity, record_id, field=field,
                                          any_field=False))
        self.records.runtime().access.system.update(
            conn, entity, record_id, {field: FileCount(held) if held else None}, actor=actor,
            trusted=True)

    def _add(self, conn: sa.Connection, item: Attachment) -> None:
        attachments.add(conn, item)
        audit.write_entries(conn, [audit.AuditEntry(
            item.entity, item.record_id, "attached", item.field, None, _summary(item),
            item.uploaded_by, item.uploaded_at)])

    def _attachment(self, conn: sa.Connection, entity: str, record_id: str,
                    attachment_id: str) -> Attachment:
        item = attachments.get(conn, entity, record_id, attachment_id) if isinstance(
            attachment_id, str) and len(attachment_id) <= 64 else None
        if item is None:
            raise NotFound(f"attachment {attachment_id} does not exist",
                           [ErrorDetail("no such attachment on this record", "/attachment")])
        return item

    def _content(self, item: Attachment) -> Iterator[bytes]:
        try:
            return self.store.open(item.sha256)
        except BlobNotFound:
            _log.error("attachment %s: blob %s is missing from the file store", item.id,
                       item.sha256)
            raise NotFound(f"the content of attachment {item.id} is missing",
                           [ErrorDetail("the file store has lost this file", "/attachment")]
                           ) from None

    def _forget_blob(self, sha256: str) -> None:
        with self.engine.connect() as conn:
            if attachments.referenced(conn, sha256):
                return
        self.store.delete(sha256)


def _batches(ids: list[str], size: int) -> list[list[str]]:
    return [ids[start:start + size] for start in range(0, len(ids), size)]


def _missing(conn: sa.Connection, system: SystemRecords, entity: str, ids: list[str]
             ) -> list[str]:
    """The ids among `ids` no record of `entity` has any more (one query)."""
    page = system.query(conn, entity, criteria={"field": "id", "op": "in", "value": ids},
                        limit=len(ids))
    found = {str(record["id"]) for record in page.records}
    return [record_id for record_id in ids if record_id not in found]


def _summary(item: Attachment) -> dict[str, object]:
    summary: dict[str, object] = {"attachment": item.id, "name": item.name,
                                  "size": item.size, "sha256": item.sha256}
    if item.template is not None:
        summary["template"] = item.template
    return summary
