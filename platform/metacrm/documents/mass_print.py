"""Mass print: one document template's PDFs of many records, delivered as one ZIP.

`request` checks the template, the ids (1–`MAX_RECORDS`, distinct) and that the caller is a
signed-in user, records the job (`metacrm_print_jobs`) and submits a work item to the
`mass_print` consumer in the same transaction — the PDFs are rendered in the job queue,
never in the web request. `generate` (the worker) renders each record AS THE REQUESTER
(`DocumentService.pdf`: the scoped read, field security), so a record the requester may not
read is not printed: it is listed among the job's failures ("not found"), as is a record
whose template fails; the others go into the ZIP, kept in the file store by its SHA-256.
Only the requester may read the job or download the ZIP (anyone else: 404).
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from metacrm.access.subject import AccessSubject
from metacrm.documents.pdf import RenderFailed
from metacrm.documents.service import DocumentService, Submitter
from metacrm.kernel.errors import ErrorDetail, Forbidden, MetacrmError, NotFound, ValidationFailed
from metacrm.kernel.ids import new_id
from metacrm.kernel.jobs import EventRecord
from metacrm.services.records.unit_of_work import write_transaction
from metacrm.storage.system_tables import print_jobs

CONSUMER_NAME = "mass_print"
EVENT_TYPE = "documents.mass_print"
MAX_RECORDS = 200
"""Records one mass print may name (a list page's selection)."""
MAX_ID_LENGTH = 64


@dataclass(frozen=True)
class PrintJob:
    id: str
    entity: str
    template: str
    status: str
    """pending, done (the ZIP is ready, perhaps with failures) or failed (nothing printed)."""
    records: int
    printed: int
    failures: tuple[Mapping[str, str], ...]
    name: str | None
    size: int | None
    sha256: str | None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "entity": self.entity, "template": self.template,
                "status": self.status, "records": self.records, "printed": self.printed,
                "failures": [dict(item) for item in self.failures],
                "file": None if self.sha256 is None else {
                    "name": self.name, "size": self.size, "sha256": self.sha256,
                    "content_type": "application/zip"}}


def record_ids(raw: Any) -> list[str]:
    """The ids of a request body: a non-empty list of distinct id strings."""
    if not isinstance(raw, list) or not raw or len(raw) > MAX_RECORDS:
        raise ValidationFailed("invalid request", [ErrorDetail(
            f"must list 1 to {MAX_RECORDS} record ids", "/ids")])
    seen: list[str] = []
    for index, value in enumerate(raw):
        if not isinstance(value, str) or not value or len(value) > MAX_ID_LENGTH:
            raise ValidationFailed("invalid request", [ErrorDetail(
                "must be a record id", f"/ids/{index}")])
        if value in seen:
            raise ValidationFailed("invalid request", [ErrorDetail(
                "is listed twice", f"/ids/{index}")])
        seen.append(value)
    return seen


class MassPrintService:
    def __init__(self, engine: sa.Engine, documents: DocumentService,
                 submitter: Callable[[], Submitter], clock: Callable[[], datetime]) -> None:
        self.engine = engine
        self.documents = documents
        self._submitter = submitter
        self.clock = clock

    def request(self, subject: AccessSubject, entity: str, template_name: Any,
                ids: Any) -> PrintJob:
        template = self.documents.template(template_name, entity)
        chosen = record_ids(ids)
        if not self.documents.records.runtime().policy.scope(subject, entity, "read").allowed:
            raise Forbidden(f"your roles do not allow read on {entity!r} records",
                            [ErrorDetail(f"no role grants read on {entity!r}", "")])
        if subject.user_id is None:
            raise Forbidden("documents are printed for a signed-in user",
                            [ErrorDetail("sign in as a user", "")])
        job_id = new_id()
        now = self.clock()
        event = EventRecord(id=job_id, type=EVENT_TYPE, entity=entity, record_id=job_id,
                            created_at=now, payload={"actor": subject.user_id})
        submitter = self._submitter()
        with write_transaction(self.engine) as conn:
            conn.execute(print_jobs.insert().values(
                id=job_id, requested_by=subject.user_id, entity=entity,
                template=template.name, record_ids=chosen, status="pending", printed=0,
                failures=[], created_at=now))
            submitter.submit(conn, CONSUMER_NAME, f"print/{job_id}", event)
        submitter.kick()
        return self.status(subject, job_id)

    def status(self, subject: AccessSubject, job_id: str) -> PrintJob:
        with self.engine.connect() as conn:
            return _job(self._row(conn, subject, job_id))

    def open(self, subject: AccessSubject, job_id: str) -> tuple[PrintJob, Iterator[bytes]]:
        """The job and its ZIP's bytes (404 while there is none)."""
        job = self.status(subject, job_id)
        if job.sha256 is None:
            raise NotFound(f"print job {job_id} has no file yet", [ErrorDetail(
                f"the job is {job.status}", "/job")])
        return job, self.documents.files.store.open(job.sha256)

    def generate(self, subject: AccessSubject, job_id: str) -> None:
        """Render the job's PDFs as `subject` and keep their ZIP (once: a done job stays)."""
        with self.engine.connect() as conn:
            row = self._row(conn, subject, job_id)
        if row["status"] != "pending":
            return
        template = self.documents.template(row["template"], row["entity"])
        failures: list[dict[str, str]] = []
        names: set[str] = set()
        buffer = io.BytesIO()
        printed = 0
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for record_id in row["record_ids"]:
                try:
                    content, name = self.documents.pdf(subject, template, record_id)
                except (MetacrmError, RenderFailed) as exc:
                    failures.append({"id": record_id, "reason": _reason(exc)})
                    continue
                archive.writestr(_unique(name, record_id, names), content)
                printed += 1
            if failures:
                archive.writestr("errors.txt", "".join(
                    f"{item['id']}: {item['reason']}\n" for item in failures))
        values: dict[str, Any] = {"status": "failed" if not printed else "done",
                                  "printed": printed, "failures": failures,
                                  "finished_at": self.clock()}
        if printed:
            data = buffer.getvalue()
            digest = hashlib.sha256(data).hexdigest()
            self.documents.files.store.put(digest, io.BytesIO(data), len(data))
            values.update(sha256=digest, size=len(data),
                          name=f"{template.name}-{job_id[-8:]}.zip")
        with write_transaction(self.engine) as conn:
            conn.execute(print_jobs.update().where(print_jobs.c.id == job_id,
                                                   print_jobs.c.status == "pending")
                         .values(**values))

    def _row(self, conn: sa.Connection, subject: AccessSubject, job_id: str
             ) -> Mapping[str, Any]:
        row = conn.execute(sa.select(print_jobs).where(
            print_jobs.c.id == job_id[:MAX_ID_LENGTH])).mappings().first()
        if row is None or subject.user_id is None or row["requested_by"] != subject.user_id:
            raise NotFound(f"there is no print job {job_id}",
                           [ErrorDetail("no such print job of yours", "/job")])
        return dict(row)


def _job(row: Mapping[str, Any]) -> PrintJob:
    ids: Sequence[str] = row["record_ids"] or ()
    return PrintJob(id=row["id"], entity=row["entity"], template=row["template"],
                    status=row["status"], records=len(ids), printed=row["printed"] or 0,
                    failures=tuple(row["failures"] or ()), name=row["name"],
                    size=row["size"], sha256=row["sha256"])


def _unique(name: str, record_id: str, used: set[str]) -> str:
    """The PDF's file name in the ZIP; a second document of the same name gets its id."""
    chosen = name if name not in used else f"{name.removesuffix('.pdf')} {record_id}.pdf"
    used.add(chosen)
    return chosen


def _reason(exc: Exception) -> str:
    if isinstance(exc, NotFound):
        return "not found (or not readable for you)"
    details = getattr(exc, "errors", None) or ()
    return "; ".join([str(exc), *(str(detail) for detail in details)])
