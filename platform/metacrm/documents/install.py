"""`install(services)`: the documents feature in a process (web app, worker, scheduler).

Registers `services.documents` (the `DocumentService`), the `documents`
consumer (renders requested PDFs in the job queue), `services.mass_print` and its
`mass_print` consumer (many records' PDFs in one ZIP) and the metadata check of document
templates' texts. Needs the files feature (installed before it in `FEATURES`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from metacrm.documents.consumer import DocumentConsumer, MassPrintConsumer
from metacrm.documents.mass_print import MassPrintService
from metacrm.documents.service import DocumentService
from metacrm.documents.validation import check_templates

if TYPE_CHECKING:
    from metacrm.composition import Services

FEATURE = "documents"
RENDER_TIMEOUT = 30.0
"""Seconds one PDF may take to render before its process is killed."""


def install(services: Services) -> None:
    documents = DocumentService(
        services.engine, services.records, services.files,
        services.registry, lambda: services.dispatcher, clock=lambda: services.clock(),
        timeout=min(RENDER_TIMEOUT, services.settings.job_lease_seconds * 0.8))
    services.documents = documents
    services.consumers.register(DocumentConsumer(lambda: documents,
                                                 services.subjects.subject_of))
    mass_print = MassPrintService(services.engine, documents, lambda: services.dispatcher,
                                  clock=lambda: services.clock())
    services.mass_print = mass_print
    services.consumers.register(MassPrintConsumer(lambda: mass_print,
                                                  services.subjects.subject_of))
    services.metadata.add_validator(check_templates)
