"""A document template + a record -> the HTML page WeasyPrint lays out.

The template texts (body, header, footer, file name) run in the automation sandbox with
HTML escaping, plus the formatting filters of the template's language
(`metacrm.documents.formatting`). Variables: `record` (the record as the requester may see
it), each related list by its name, `document` (`name`, `language`, `label`), `now`, `today`.
The page format, the running header and footer and the page-number counters become CSS.
"""

from __future__ import annotations

import html as html_escape
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from jinja2 import Template, TemplateSyntaxError, meta

from metacrm.automation.sandbox import AutomationSandbox, FieldValues, make_sandbox
from metacrm.automation.sandbox_limits import SandboxLimit, within_time_limit
from metacrm.automation.templates import failure_reason, reference_errors
from metacrm.documents import formatting
from metacrm.documents.pdf import RenderFailed
from metacrm.kernel.errors import ErrorDetail
from metacrm.metadata.model import DocumentTemplateDef, EntityDef

MAX_HTML = 2_000_000
"""Characters a rendered document may have."""
TEMPLATE_TIME_LIMIT = 5.0
"""Seconds the template texts of one document may take to run (the PDF has its own)."""
PARTS = ("body", "header", "footer", "file_name")
PAGE_SIZES = {"A4": "A4", "A5": "A5", "A3": "A3", "letter": "letter", "legal": "legal"}

_environments: dict[str, AutomationSandbox] = {}
_lock = threading.Lock()


def environment(language: str) -> AutomationSandbox:
    """The HTML-escaping sandbox with the filters of `language` (one per language)."""
    with _lock:
        env = _environments.get(language)
        if env is None:
            env = make_sandbox(html=True)
            env.filters.update(formatting.filters(language))
            _environments[language] = env
        return env


def check_template(template: DocumentTemplateDef, entity: EntityDef,
                   related: Mapping[str, EntityDef]) -> list[ErrorDetail]:
    """Syntax errors and unknown record fields of the template's texts, each at its part."""
    env = environment(template.language)
    errors: list[ErrorDetail] = []
    extra = {"document", *related}
    for part in PARTS:
        text = getattr(template, part) or ""
        if not text:
            continue
        try:
            parsed = env.parse(text)
        except TemplateSyntaxError as exc:
            errors.append(ErrorDetail(
                f"template syntax error on line {exc.lineno}: {exc.message}", f"/{part}"))
            continue
        errors.extend(reference_errors(parsed, meta.find_undeclared_variables(parsed),
                                       set(env.globals) | extra, entity, f"/{part}",
                                       "template"))
    return errors


def render_text(template: DocumentTemplateDef, part: str, variables: Mapping[str, Any]
                ) -> str:
    text = getattr(template, part) or ""
    if not text:
        return ""
    try:
        compiled: Template = environment(template.language).from_string(text)
        return within_time_limit(lambda: _streamed(compiled, variables), TEMPLATE_TIME_LIMIT)
    except Exception as exc:  # the template's own error, reported clearly
        reason = (f"template syntax error: {exc.message}"
                  if isinstance(exc, TemplateSyntaxError) else failure_reason(exc))
        raise RenderFailed(f"the template {template.name} failed in its {part}: {reason}",
                           [ErrorDetail(reason, f"/{part}")]) from None


def variables(template: DocumentTemplateDef, record: Mapping[str, Any],
              related: Mapping[str, list[Mapping[str, Any]]], now: datetime
              ) -> dict[str, Any]:
    return {
        "record": FieldValues(dict(record)),
        **{name: [FieldValues(dict(item)) for item in items]
           for name, items in related.items()},
        "document": FieldValues({"name": template.name, "language": template.language,
                                 "label": template.label.get(template.language,
                                                             template.name)}),
        "now": now,
        "today": now.astimezone(UTC).date(),
    }


def document_html(template: DocumentTemplateDef, values: Mapping[str, Any]) -> str:
    """The whole HTML page of the document."""
    body = render_text(template, "body", values)
    header = render_text(template, "header", values)
    footer = render_text(template, "footer", values)
    css = page_css(template) + (template.styles or "").replace("</", "<\\/")
    return (f'<!DOCTYPE html><html lang="{template.language}"><head><meta charset="utf-8">'
            f"<title>{html_escape.escape(template.name)}</title><style>{css}</style></head>"
            f'<body><div class="doc-header">{header}</div>'
            f'<div class="doc-footer">{footer}</div>{body}</body></html>')


def file_name(template: DocumentTemplateDef, values: Mapping[str, Any]) -> str:
    name = html_escape.unescape(render_text(template, "file_name", values)).strip()
    return f"{name or template.name}.pdf"


def page_css(template: DocumentTemplateDef) -> str:
    size = PAGE_SIZES.get(template.page_size, "A4")
    margin = max(0.0, min(template.margin_mm, 60.0))
    return (
        f"@page {{ size: {size} {template.orientation}; margin: {margin:g}mm;"
        " @top-center { content: element(doc-header); width: 100% }"
        " @bottom-center { content: element(doc-footer); width: 100% } }"
        " .doc-header { position: running(doc-header) }"
        " .doc-footer { position: running(doc-footer) }"
        " .page-number::after { content: counter(page) }"
        " .page-count::after { content: counter(pages) }"
        " body { font-family: 'DejaVu Sans', 'Liberation Sans', sans-serif; font-size: 10pt }"
    )


def _streamed(template: Template, values: Mapping[str, Any]) -> str:
    parts: list[str] = []
    size = 0
    for part in template.generate(values):
        size += len(part)
        if size > MAX_HTML:
            raise SandboxLimit(f"the document is longer than {MAX_HTML} characters")
        parts.append(part)
    return "".join(parts)
