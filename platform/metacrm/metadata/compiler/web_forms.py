"""Compile `web_form` documents: the lead fields a public form may write, its consent.

Checked against the model: the entity exists, every field is a field of it that a visitor
can type (text-like, a choice or a whole number — never a reference, a state, a computed
or read-only field: the public route writes only what the form lists, and those must be
safe for anyone to set), no field twice, the lead's `source` value is one of its
choices, and the consent's purpose is a purpose of the `consent` entity.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from metacrm.metadata.compiler.context import CompileContext, suggestion
from metacrm.metadata.compiler.freeze import labels, names
from metacrm.metadata.documents import Document
from metacrm.metadata.model import (
    SourceRef,
    WebFormConsentDef,
    WebFormDef,
    WebFormFieldDef,
)

FORM_TYPES = frozenset({"text", "textarea", "email", "phone", "url", "picklist",
                        "multi_picklist", "integer", "boolean"})
"""Field types a visitor may fill in on a public form."""
CONSENT = "consent"


def _consent(raw: Any) -> WebFormConsentDef | None:
    if not isinstance(raw, Mapping):
        return None
    return WebFormConsentDef(purpose=str(raw["purpose"]), text=labels(raw.get("text")),
                             required=bool(raw.get("required", False)),
                             double_opt_in=bool(raw.get("double_opt_in", False)))


def build_web_form(document: Document) -> WebFormDef:
    body = document.body
    return WebFormDef(
        name=document.name, label=labels(body.get("label")),
        fields=tuple(WebFormFieldDef(field=str(raw["field"]), label=labels(raw.get("label")),
                                     required=bool(raw.get("required", False)))
                     for raw in body["fields"]),
        entity=str(body.get("entity", "lead")), consent=_consent(body.get("consent")),
        source=str(body.get("source", "website")), redirect_url=body.get("redirect_url"),
        allowed_origins=names(body.get("allowed_origins")),
        submissions_per_hour=int(body.get("submissions_per_hour", 20)),
        thank_you=labels(body.get("thank_you")), description=labels(body.get("description")),
        pack=document.pack, source_ref=SourceRef(document.source))


def check_web_form(form: WebFormDef, context: CompileContext) -> None:
    report = context.reporter(form.source_ref.file)
    entity = context.entity(form.entity, report, "/entity")
    if entity is None:
        return
    seen: set[str] = set()
    for index, item in enumerate(form.fields):
        pointer = f"/fields/{index}/field"
        field = entity.field(item.field)
        if field is None:
            report.missing(f"unknown field '{item.field}' of {entity.name}"
                           + suggestion(item.field, entity.field_names), pointer)
        elif field.type not in FORM_TYPES or field.read_only:
            report.error(f"'{item.field}' ({field.type}) cannot be filled in on a public "
                         f"form; allowed: {', '.join(sorted(FORM_TYPES))}, not read-only",
                         pointer)
        elif item.field in seen:
            report.error(f"'{item.field}' is listed twice", pointer)
        seen.add(item.field)
    source = entity.field("source")
    if source is not None and source.choices and form.source not in {
            str(c.value) for c in source.choices}:
        report.error(f"'{form.source}' is not a choice of {entity.name}.source", "/source")
    if form.consent is not None:
        consent = context.entities.get(CONSENT)
        purpose = consent.field("purpose") if consent is not None else None
        purposes = {str(c.value) for c in purpose.choices} if purpose is not None else set()
        if form.consent.purpose not in purposes:
            report.error(f"'{form.consent.purpose}' is not a consent purpose"
                         + suggestion(form.consent.purpose, purposes), "/consent/purpose")
        if "email" not in seen:
            report.error("a form with a consent checkbox must ask for the email", "/consent")
