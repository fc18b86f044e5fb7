"""`DocumentService`: generate a record's PDF from a document template.

`request` checks the template and the caller's read access to the record, then submits a
work item to the job queue (consumer `documents`) and returns at once (202): the PDF is
rendered by a worker — never inside the web request — as the requester (the record and the
related lists as they may see them), and kept as an immutable attachment of the record whose
id is the request's id, its SHA-256 stored and the `attached` entry in the audit trail.
`status` tells how a request stands; `html` renders a template's page without the PDF step
(the designer's preview).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import sqlalchemy as sa

from metacrm.access.subject import AccessSubject
from metacrm.automation.record_values import python_record
from metacrm.documents import rendering
from metacrm.documents.pdf import render_pdf
from metacrm.fieldtypes.registry import FieldTypeRegistry
from metacrm.files import attachments
from metacrm.files.service import FileService
from metacrm.kernel.errors import ErrorDetail, Forbidden, NotFound, ValidationFailed
from metacrm.kernel.ids import new_id
from metacrm.kernel.jobs import EventRecord
from metacrm.metadata.model import DocumentTemplateDef
from metacrm.services.records.service import RecordsService
from metacrm.services.records.unit_of_work import write_transaction
from metacrm.storage import work_item_store

CONSUMER_NAME = "documents"
EVENT_TYPE = "document.requested"


class Submitter(Protocol):
    """The job machinery as documents use it (`metacrm.jobs.dispatcher.Dispatcher`)."""

    def submit(self, conn: sa.Connection, consumer: str, target: str, event: EventRecord
               ) -> str | None: ...

    def kick(self) -> None: ...


@dataclass(frozen=True)
class DocumentRequest:
    id: str
    status: str
    """pending, running, done or failed."""
    attachment: Mapping[str, Any] | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "status": self.status,
                "attachment": dict(self.attachment) if self.attachment else None,
                "error": self.error}


def target_of(entity: str, record_id: str) -> str:
    return f"{entity}/{record_id}"


class DocumentService:
    def __init__(self, engine: sa.Engine, records: RecordsService, files: FileService,
                 registry: FieldTypeRegistry, submitter: Callable[[], Submitter], *,
                 clock: Callable[[], datetime], timeout: float) -> None:
        self.engine = engine
        self.records = records
        self.files = files
        self.registry = registry
        self._submitter = submitter
        self.clock = clock
        self.timeout = timeout

    def template(self, name: Any, entity: str | None = None) -> DocumentTemplateDef:
        model = self.records.runtime().model
        found = model.document_templates.get(name) if isinstance(name, str) else None
        if found is None:
            known = ", ".join(sorted(t.name for t in model.document_templates.values()
                                     if entity is None or t.entity == entity)) or "none"
            raise ValidationFailed(f"there is no document template {name!r}", [ErrorDetail(
                f"not a document template; the templates of {entity or 'this CRM'}: {known}",
                "/template")])
        if entity is not None and found.entity != entity:
            raise ValidationFailed(f"the template {found.name} is for {found.entity} records",
                                   [ErrorDetail(f"renders {found.entity} records, not "
                                                f"{entity}", "/template")])
        return found

    def request(self, subject: AccessSubject, entity: str, record_id: str,
                template_name: Any) -> DocumentRequest:
        template = self.template(template_name, entity)
        self.records.get(subject, entity, record_id)  # NotFound outside the read scope
        if subject.user_id is None:
            raise Forbidden("documents are generated for a signed-in user",
                            [ErrorDetail("sign in as a user", "")])
        request_id = new_id()
        event = EventRecord(id=request_id, type=EVENT_TYPE, entity=entity,
                            record_id=record_id, created_at=self.clock(),
                            payload={"template": template.name, "actor": subject.user_id})
        submitter = self._submitter()
        with write_transaction(self.engine) as conn:
            submitter.submit(conn, CONSUMER_NAME, target_of(entity, record_id), event)
        submitter.kick()
        return self.status(subject, entity, record_id, request_id)

    def status(self, subject: AccessSubject, entity: str, record_id: str, request_id: str
               ) -> DocumentRequest:
        self.records.get(subject, entity, record_id)
        with self.engine.connect() as conn:
            kept = attachments.get(conn, entity, record_id, request_id)
            item = work_item_store.find(conn, CONSUMER_NAME, target_of(entity, record_id),
                                 request_id) if len(request_id) <= 64 else None
        if kept is not None and kept.template is not None:
            return DocumentRequest(request_id, "done", kept.to_json())
        if item is None:  # (finished items are forgotten after 30 days; the PDF stays)
            raise NotFound(f"there is no document request {request_id}",
                           [ErrorDetail("no such request for this record", "/request")])
        return DocumentRequest(request_id, item.status,
                               error=item.last_error if item.status == "failed" else None)

    # --- rendering (the worker; the bench; the preview) -------------------------------------

    def html(self, subject: AccessSubject, template: DocumentTemplateDef, record_id: str
             ) -> tuple[str, str]:
        """The document's HTML page and file name for the record, as `subject` sees it."""
        values = self._variables(subject, template, record_id)
        return rendering.document_html(template, values), rendering.file_name(template,
                                                                               values)

    def pdf(self, subject: AccessSubject, template: DocumentTemplateDef, record_id: str
            ) -> tuple[bytes, str]:
        page, name = self.html(subject, template, record_id)
        return render_pdf(page, self.timeout), name

    def generate(self, subject: AccessSubject, request_id: str, template_name: str,
                 entity: str, record_id: str) -> None:
        """Render and keep the document of request `request_id` (once: a retry of a
        request already kept does nothing)."""
        with self.engine.connect() as conn:
            if attachments.by_id(conn, request_id) is not None:
                return
        template = self.template(template_name, entity)
        content, name = self.pdf(subject, template, record_id)
        with write_transaction(self.engine) as conn:
            self.records.runtime().scoped(subject).get(conn, entity, record_id)
            self.files.add_document(conn, entity, record_id, content, name, template.name,
                                    subject.user_id, attachment_id=request_id)

    def _variables(self, subject: AccessSubject, template: DocumentTemplateDef,
                   record_id: str) -> dict[str, Any]:
        entity = self.records.visible_entity(subject, template.entity)
        record = self.records.get(subject, template.entity, record_id)
        related: dict[str, list[Mapping[str, Any]]] = {}
        for spec in template.related:
            other = self.records.visible_entity(subject, spec.entity)
            page = self.records.list(
                subject, spec.entity, criteria={"field": spec.field, "op": "eq",
                                                "value": record_id},
                sort=spec.sort, limit=spec.limit)
            related[spec.name] = [python_record(other, self.registry, item)
                                  for item in page.records]
        return rendering.variables(template, python_record(entity, self.registry, record),
                                   related, self.clock())
