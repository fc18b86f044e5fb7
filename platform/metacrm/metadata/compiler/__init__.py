"""The metadata compiler: validated documents -> cross-checked, immutable `CompiledModel`.

Each document kind has its build module (entities, pipelines, roles, triggers, views,
reports, dashboards). Building happens in dependency order — entities, then pipelines (they
name an entity), then everything that names entities, fields, pipelines and roles, then
dashboards (they name reports) — and every problem is collected, so one run reports all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import TypeVar

from metacrm.kernel.errors import ErrorDetail, MetadataInvalid
from metacrm.metadata.catalog import FieldTypeCatalog
from metacrm.metadata.compiler.calendars import build_calendar, check_calendar_teams
from metacrm.metadata.compiler.checks import check_entity_links, without_duplicates
from metacrm.metadata.compiler.checksum import documents_checksum
from metacrm.metadata.compiler.computed import check_computed
from metacrm.metadata.compiler.context import CompileContext, suggestion
from metacrm.metadata.compiler.conversions import build_conversion, check_conversion
from metacrm.metadata.compiler.dashboards import build_dashboard, check_dashboard
from metacrm.metadata.compiler.document_templates import (
    build_document_template,
    check_document_template,
)
from metacrm.metadata.compiler.duplicate_rules import (
    build_duplicate_rule,
    check_duplicate_rule,
    with_match_keys,
)
from metacrm.metadata.compiler.entities import build_entity
from metacrm.metadata.compiler.pipelines import build_pipeline, check_pipeline
from metacrm.metadata.compiler.reports import build_report, check_report
from metacrm.metadata.compiler.role_grants import apply_role_grants
from metacrm.metadata.compiler.roles import build_role, check_role
from metacrm.metadata.compiler.sla_policies import build_sla_policy, check_sla_policy
from metacrm.metadata.compiler.triggers import build_trigger, check_trigger
from metacrm.metadata.compiler.views import build_view, check_view
from metacrm.metadata.compiler.web_forms import build_web_form, check_web_form
from metacrm.metadata.documents import KINDS, Document
from metacrm.metadata.loader import error_summary, read_documents, validate_documents
from metacrm.metadata.model import CompiledModel
from metacrm.metadata.schemas import SCHEMA_DIR

__all__ = ["compile_model", "load_model"]

T = TypeVar("T")


def compile_model(
    documents: Sequence[Document], catalog: FieldTypeCatalog, *, validate: bool = True
) -> CompiledModel:
    """Compile documents into the immutable model; raise MetadataInvalid with ALL errors.

    `validate=False` skips the JSON Schema check for documents that already passed it
    (those `load_documents` returns); anything else must be validated, or a malformed body
    could fail in ways that are not reported as metadata errors.
    """
    if validate:
        validate_documents(documents)
    model, errors = _compile(documents, catalog, complete=True)
    if errors or model is None:
        raise MetadataInvalid(error_summary(errors), _in_file_order(errors))
    return model


def load_model(
    paths: Sequence[Path], catalog: FieldTypeCatalog, *, schema_dir: Path = SCHEMA_DIR
) -> CompiledModel:
    """Load the packs under `paths` and compile them; MetadataInvalid lists every error.

    When some files are broken (invalid JSON, schema violations) the others are still
    compiled, so their own problems (an unknown field type, a reserved name...) are reported
    in the same run; only "unknown entity/pipeline/role" errors are held back, since what
    they name may be in a broken file.
    """
    documents, errors = read_documents(paths, schema_dir=schema_dir)
    model, compile_errors = _compile(documents, catalog, complete=not errors)
    errors = errors + compile_errors
    if errors or model is None:
        raise MetadataInvalid(error_summary(errors), _in_file_order(errors))
    return model


def _compile(
    documents: Sequence[Document], catalog: FieldTypeCatalog, *, complete: bool
) -> tuple[CompiledModel | None, list[ErrorDetail]]:
    context = CompileContext(catalog, complete=complete)
    ordered = sorted(documents, key=lambda d: (KINDS.index(d.kind), d.name, d.source))
    by_kind: dict[str, list[Document]] = {kind: [] for kind in KINDS}
    for document in without_duplicates(ordered, context):
        by_kind[document.kind].append(document)
    context.role_names = frozenset(d.name for d in by_kind["role"])
    extensions = _extensions_by_entity(by_kind["entity_extension"], by_kind["entity"],
                                       context)
    context.entities = _build_all(by_kind["entity"], context,
                                  lambda d: build_entity(d, context, extensions.get(d.name, ())))
    context.pipelines = _build_all(by_kind["pipeline"], context,
                                   lambda d: build_pipeline(d, context))
    check_entity_links(context)
    check_computed(context)
    for pipeline in context.pipelines.values():
        check_pipeline(pipeline, context)
    by_kind["role"], by_kind["dashboard"] = apply_role_grants(
        by_kind["role_grant"], by_kind["role"], by_kind["dashboard"], context)
    roles = _build_all(by_kind["role"], context, build_role)
    triggers = _build_all(by_kind["trigger"], context, build_trigger)
    views = _build_all(by_kind["view"], context, build_view)
    reports = _build_all(by_kind["report"], context, build_report)
    for role in roles.values():
        check_role(role, context)
    for trigger in triggers.values():
        check_trigger(trigger, context)
    for view in views.values():
        check_view(view, context)
    for report in reports.values():
        check_report(report, context)
    conversions = _build_all(by_kind["conversion"], context, build_conversion)
    for conversion in conversions.values():
        check_conversion(conversion, context)
    calendars = _build_all(by_kind["business_calendar"], context,
                           lambda d: build_calendar(d, context))
    check_calendar_teams(calendars, context)
    templates = _build_all(by_kind["document_template"], context, build_document_template)
    for template in templates.values():
        check_document_template(template, context)
    duplicate_rules = _build_all(by_kind["duplicate_rule"], context, build_duplicate_rule)
    for rule in duplicate_rules.values():
        check_duplicate_rule(rule, context)
    dashboards = _build_all(by_kind["dashboard"], context, build_dashboard)
    for dashboard in dashboards.values():
        check_dashboard(dashboard, reports, context)
    sla_policies = _build_all(by_kind["sla_policy"], context, build_sla_policy)
    for policy in sla_policies.values():
        check_sla_policy(policy, calendars, context)
    web_forms = _build_all(by_kind["web_form"], context, build_web_form)
    for form in web_forms.values():
        check_web_form(form, context)
    if context.errors:
        return None, context.errors
    return CompiledModel(
        entities=MappingProxyType(with_match_keys(context.entities, duplicate_rules)),
        pipelines=MappingProxyType(context.pipelines),
        roles=MappingProxyType(roles),
        triggers=MappingProxyType(triggers),
        views=MappingProxyType(views),
        reports=MappingProxyType(reports),
        conversions=MappingProxyType(conversions),
        calendars=MappingProxyType(calendars),
        document_templates=MappingProxyType(templates),
        duplicate_rules=MappingProxyType(duplicate_rules),
        dashboards=MappingProxyType(dashboards),
        sla_policies=MappingProxyType(sla_policies),
        web_forms=MappingProxyType(web_forms),
        checksum=documents_checksum(documents),
    ), []


def _build_all(
    documents: list[Document], context: CompileContext, build: Callable[[Document], T]
) -> dict[str, T]:
    """name -> definition of each document; a document too deeply nested to be frozen is
    reported instead of crashing the compilation."""
    built: dict[str, T] = {}
    for document in documents:
        try:
            built[document.name] = build(document)
        except RecursionError:
            context.reporter(document.source).error("the document is nested too deeply", "")
    return built


def _extensions_by_entity(extensions: list[Document], entities: list[Document],
                          context: CompileContext) -> dict[str, list[Document]]:
    """entity name -> the `entity_extension` documents adding fields to it (in name order);
    an extension of an entity that does not exist is reported at its `/entity`."""
    known = {document.name for document in entities}
    found: dict[str, list[Document]] = {}
    for extension in extensions:
        target = str(extension.body.get("entity"))
        if target not in known:
            context.reporter(extension.source).missing(
                f"unknown entity '{target}'" + suggestion(target, known), "/entity")
            continue
        found.setdefault(target, []).append(extension)
    return found


def _in_file_order(errors: list[ErrorDetail]) -> list[ErrorDetail]:
    """Errors grouped by file (files in name order), each file's errors as found."""
    return sorted(errors, key=lambda error: error.source)
