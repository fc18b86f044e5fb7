"""Email templates: `email_template` records (name, language, subject, body) rendered in the
automation sandbox (Jinja2's `ImmutableSandboxedEnvironment` with its size and time limits,
`metacrm.automation.templates`) with the record's fields as `record` and `now`.

One template name has a row per language (en, ru); a send asks for a language and gets that
row, else the English one, else any.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from metacrm.access.subject import AccessSubject
from metacrm.automation.record_values import python_record
from metacrm.automation.sandbox import FieldValues
from metacrm.automation.templates import Templates
from metacrm.fieldtypes.registry import FieldTypeRegistry
from metacrm.kernel.errors import ErrorDetail, ValidationFailed
from metacrm.services.records.service import RecordsService

TEMPLATE_ENTITY = "email_template"
FALLBACK_LANGUAGE = "en"


class EmailTemplates:
    def __init__(self, records: RecordsService, registry: FieldTypeRegistry) -> None:
        self.records = records
        self.registry = registry
        self.templates = Templates()

    def find(self, subject: AccessSubject, name: Any, language: str) -> Mapping[str, Any]:
        """The template `name` in `language` (else English, else any) as `subject` may read it."""
        if not isinstance(name, str) or not name:
            raise ValidationFailed("invalid template",
                                   [ErrorDetail("a template name", "/template")])
        rows = self.records.list(subject, TEMPLATE_ENTITY, criteria={
            "field": "name", "op": "eq", "value": name}, limit=20).records
        for wanted in (language, FALLBACK_LANGUAGE):
            for row in rows:
                if row.get("language") == wanted:
                    return row
        if rows:
            return rows[0]
        raise ValidationFailed(f"there is no email template {name!r}", [ErrorDetail(
            "no email template of this name that you may read", "/template")])

    def render(self, template: Mapping[str, Any], entity: str, record: Mapping[str, Any],
               subject: AccessSubject, now: datetime) -> tuple[str, str]:
        """The subject line and text of `template` for `record` (as `subject` sees it)."""
        entity_def = self.records.visible_entity(subject, entity)
        variables = {"record": FieldValues(python_record(entity_def, self.registry, record)),
                     "now": now, "today": now.date()}
        version = self.records.runtime().model
        title = self.templates.render(str(template.get("subject") or ""), variables,
                                      pointer="/template", version=id(version))
        body = self.templates.render(str(template.get("body") or ""), variables,
                                     pointer="/template", version=id(version))
        return " ".join(title.split()), body
