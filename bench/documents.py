"""Benchmark: a quote rendered to PDF from a document template, as the worker does it.

    python bench/documents.py [--renders 50] [--lines 50]

Builds the services on a temporary SQLite database with an offer entity, its lines and a
Russian quote template (header, footer with page numbers, a table of lines, totals, the
amount in words), then times `DocumentService.generate` — what the `documents` consumer
runs in a worker: read the record and its lines through the access layer, run the template
in the sandbox, render the PDF in a fork-server process (WeasyPrint), store it and its
attachment row — for a one-page quote (3 lines) and for a `--lines`-line quote (3 pages).
Targets (issue 16): one page p95 <= 500 ms; 50 lines, 3 pages <= 2 s.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from metacrm.access.subject import AccessSubject
from metacrm.composition import build_services
from metacrm.documents.service import DocumentService
from metacrm.kernel.ids import new_id
from metacrm.metadata.documents import Document
from metacrm.settings import Settings

SECRET_KEY = "bench-secret-key-that-is-long-enough-for-hs256"  # noqa: S105


def labels(text: str) -> dict[str, str]:
    return {"en": text, "ru": text}


def field(name: str, type_: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, "label": labels(name), **extra}


BODY = """<h1>Коммерческое предложение № {{ record.number }}</h1>
<p>от {{ record.issued_on | date('long') }}</p>
<table class="lines"><tr><th>№</th><th>Товар</th><th>Кол-во</th><th>Цена</th><th>Сумма</th></tr>
{% for line in lines %}<tr><td>{{ line.position }}</td><td>{{ line.product }}</td>
<td>{{ line.quantity | number(2) }}</td><td>{{ line.price | money }}</td>
<td>{{ line.amount | money }}</td></tr>{% endfor %}</table>
<p class="total">Итого: {{ record.total | money }}</p>
<p>{{ record.total | in_words | capitalise }}</p>"""
DOCUMENTS = (
    {"kind": "role", "name": "boss", "version": 1, "label": labels("Boss"), "admin": True},
    {"kind": "entity", "name": "offer", "version": 1, "label": labels("Offer"),
     "fields": [field("number", "text"), field("issued_on", "date"),
                field("total", "money", currency="RUB")]},
    {"kind": "entity", "name": "offer_line", "version": 1, "label": labels("Line"),
     "fields": [field("offer", "reference", entity="offer", on_delete="cascade"),
                field("position", "integer"), field("product", "text"),
                field("quantity", "decimal", scale=2),
                field("price", "money", currency="RUB"),
                field("amount", "money", currency="RUB")]},
    {"kind": "document_template", "name": "quote", "version": 1,
     "label": labels("Quote"), "entity": "offer", "language": "ru", "body": BODY,
     "header": "<b>ООО «Ромашка»</b> — коммерческое предложение",
     "footer": 'Страница <span class="page-number"></span> из <span class="page-count"></span>',
     "styles": "table.lines { width: 100%; border-collapse: collapse }"
               " table.lines td, table.lines th { border: 1px solid #999; padding: 4px }",
     "related": [{"name": "lines", "entity": "offer_line", "field": "offer",
                  "sort": ["position"]}]},
)


def make_offer(services: Any, subject: AccessSubject, lines: int) -> str:
    records = services.records
    total = Decimal(0)
    offer = records.create(subject, "offer", {"number": f"Q-{lines}",
                                              "issued_on": "2026-12-07"})
    for position in range(1, lines + 1):
        price = Decimal(100 + position)
        quantity = Decimal(position % 5 + 1)
        total += price * quantity
        records.create(subject, "offer_line", {
            "offer": offer["id"], "position": position, "product": f"Товар {position}",
            "quantity": str(quantity), "price": {"amount": str(price), "currency": "RUB"},
            "amount": {"amount": str(price * quantity), "currency": "RUB"}})
    records.update(subject, "offer", offer["id"],
                   {"total": {"amount": str(total), "currency": "RUB"}})
    return str(offer["id"])


def timed(documents: DocumentService, subject: AccessSubject, offer: str, renders: int
          ) -> list[float]:
    documents.generate(subject, new_id(), "quote", "offer", offer)  # warm-up
    samples = []
    for _ in range(renders):
        started = time.perf_counter()
        documents.generate(subject, new_id(), "quote", "offer", offer)
        samples.append(time.perf_counter() - started)
    return samples


def report(what: str, samples: list[float], pages: int) -> None:
    ordered = sorted(samples)
    p95 = ordered[max(0, int(len(ordered) * 0.95) - 1)]
    print(f"{what} ({pages} page(s)): median {statistics.median(ordered) * 1000:.0f} ms, "
          f"p95 {p95 * 1000:.0f} ms over {len(ordered)} renders")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--renders", type=int, default=50)
    parser.add_argument("--lines", type=int, default=50)
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="metacrm-bench-documents-"))
    settings = Settings(database_url=f"sqlite:///{root / 'bench.db'}", metadata_paths=(),
                        redis_url=None, secret_key=SECRET_KEY, instance_path=root)
    services = build_services(settings, pack_source=lambda _services: None)  # type: ignore[arg-type,return-value]
    try:
        services.metadata.apply([Document.from_body(dict(body), source=f"{body['name']}.json",
                                                    pack="bench") for body in DOCUMENTS],
                                author="bench")
        subject = AccessSubject(user_id="1", username="bench", roles=("boss",),
                                is_admin=True)
        documents = services.feature("documents", DocumentService)
        from pypdf import PdfReader

        for lines, renders in ((3, args.renders), (args.lines, max(5, args.renders // 5))):
            offer = make_offer(services, subject, lines)
            samples = timed(documents, subject, offer, renders)
            last = documents.files.list(subject, "offer", offer)[-1]
            content = b"".join(documents.files.store.open(last.sha256))
            import io

            pages = len(PdfReader(io.BytesIO(content)).pages)
            report(f"{lines} lines", samples, pages)
    finally:
        services.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
