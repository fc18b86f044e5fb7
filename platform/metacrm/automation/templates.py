"""Text templates of automation actions: email subjects and bodies, field values.

A template is Jinja2 text run in the automation sandbox (`sandbox.py`) with these variables:

* `record` — the record as it is now, field values in their Python form (decimals,
  dates, money printing as `100.00 USD`), plus `id`, `owner`, `created_at`...;
* `previous` — the changed fields' values before the change (empty on creation);
* `trigger` — `name`, `entity`, `event` and `label` (English) of the running trigger;
* `now` (aware UTC datetime) and `today` (its date).

`record.first_name` and `record["first_name"]` both work; a field that does not exist is an
error found when the metadata is checked (`Templates.check`), and at run time (StrictUndefined)
should the check have been skipped. A `None` value prints as nothing. Plain-text templates
are not escaped; HTML ones (`html=True`, the HTML part of an email) escape every value.

Templates are compiled once per text and metadata version: the cache is dropped when the
version changes, so it never holds more than the live metadata's templates.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from jinja2 import Template, TemplateSyntaxError, meta, nodes
from jinja2.exceptions import SecurityError, UndefinedError

from metacrm.automation.record_values import python_record
from metacrm.automation.sandbox import AutomationSandbox, FieldValues, make_sandbox
from metacrm.automation.sandbox_limits import MAX_TEXT, SandboxLimit, within_time_limit
from metacrm.fieldtypes.registry import FieldTypeRegistry
from metacrm.kernel.errors import ErrorDetail, ValidationFailed
from metacrm.metadata.model import SYSTEM_COLUMNS, EntityDef, TriggerDef

VARIABLES = ("record", "previous", "trigger", "now", "today")
RECORD_VARIABLES = ("record", "previous")
TRIGGER_KEYS = ("name", "entity", "event", "label")
MAX_TEMPLATE = 20_000
"""Characters a template text may have."""


def template_variables(
    entity: EntityDef,
    registry: FieldTypeRegistry,
    *,
    record: Mapping[str, Any],
    previous: Mapping[str, Any],
    trigger: TriggerDef | None,
    now: datetime,
) -> dict[str, Any]:
    """The variables of a template or formula run for one record."""
    trigger_values: dict[str, Any] = {}
    if trigger is not None:
        trigger_values = {"name": trigger.name, "entity": trigger.entity,
                          "event": trigger.event, "label": trigger.label.get("en", trigger.name)}
    return {
        "record": FieldValues(python_record(entity, registry, record)),
        "previous": FieldValues(python_record(entity, registry, previous)),
        "trigger": FieldValues(trigger_values),
        "now": now,
        "today": now.astimezone(UTC).date(),
    }


def reference_errors(
    node: nodes.Node, undeclared: set[str], known_globals: set[str], entity: EntityDef,
    pointer: str, what: str,
) -> list[ErrorDetail]:
    """Unknown variables, unknown fields of `record`/`previous` and unknown keys of
    `trigger` in a parsed text."""
    errors = [
        ErrorDetail(f"unknown name {name!r} in the {what}; known: {', '.join(VARIABLES)}",
                    pointer)
        for name in sorted(undeclared - set(VARIABLES) - known_globals)
    ]
    known_fields = set(entity.field_names) | set(SYSTEM_COLUMNS)
    seen: set[str] = set()
    for access in node.find_all((nodes.Getattr, nodes.Getitem)):
        target = access.node  # type: ignore[attr-defined]  # both kinds have .node
        if not isinstance(target, nodes.Name):
            continue
        if target.name == "trigger" and isinstance(access, nodes.Getattr) and \
                access.attr not in TRIGGER_KEYS and f"trigger.{access.attr}" not in seen:
            seen.add(f"trigger.{access.attr}")
            errors.append(ErrorDetail(f"trigger has no {access.attr!r}; it has "
                                      f"{', '.join(TRIGGER_KEYS)}", pointer))
        if target.name not in RECORD_VARIABLES:
            continue
        if isinstance(access, nodes.Getattr):
            field = access.attr
        elif (isinstance(access, nodes.Getitem) and isinstance(access.arg, nodes.Const)
              and isinstance(access.arg.value, str)):
            field = access.arg.value
        else:
            continue
        if field not in known_fields and field not in seen:
            seen.add(field)
            errors.append(ErrorDetail(
                f"{entity.name} has no field {field!r} ({target.name}.{field} in the {what})",
                pointer))
    return errors


def failure_reason(exc: Exception) -> str:
    """What to tell the metadata author about a template or formula that failed to run."""
    if isinstance(exc, SecurityError):
        return f"not allowed in the sandbox: {exc}"
    if isinstance(exc, UndefinedError):
        return f"undefined value: {exc.message}"
    if isinstance(exc, SandboxLimit):
        return f"refused by the sandbox: {exc}"
    return f"{type(exc).__name__}: {exc}"


class Templates:
    """Checks and renders template texts (plain text and HTML), compiled once each."""

    def __init__(self) -> None:
        self._environments: dict[bool, AutomationSandbox] = {
            False: make_sandbox(html=False), True: make_sandbox(html=True)}
        self._lock = threading.Lock()
        self._version: object = None
        self._compiled: dict[tuple[bool, str], Template] = {}

    def environment(self, *, html: bool = False) -> AutomationSandbox:
        return self._environments[html]

    def check(
        self, text: Any, pointer: str, entity: EntityDef, *, html: bool = False
    ) -> list[ErrorDetail]:
        """Problems with a template text for a trigger on `entity` (syntax, unknown names
        and fields), each at `pointer`."""
        if not isinstance(text, str):
            return [ErrorDetail("must be a template text", pointer)]
        if len(text) > MAX_TEMPLATE:
            return [ErrorDetail(f"a template has at most {MAX_TEMPLATE} characters", pointer)]
        env = self._environments[html]
        try:
            parsed = env.parse(text)
        except TemplateSyntaxError as exc:
            return [ErrorDetail(f"template syntax error on line {exc.lineno}: {exc.message}",
                                pointer)]
        return reference_errors(parsed, meta.find_undeclared_variables(parsed),
                                set(env.globals), entity, pointer, "template")

    def compiled(self, text: str, *, html: bool = False, version: object = None) -> Template:
        """The compiled template of `text` (cached until the metadata `version` changes)."""
        key = (html, text)
        with self._lock:
            if version != self._version:
                self._compiled.clear()
                self._version = version
            template = self._compiled.get(key)
        if template is None:
            template = self._environments[html].from_string(text)
            with self._lock:
                if version == self._version:
                    self._compiled[key] = template
        return template

    def render(
        self, text: str, variables: Mapping[str, Any], *, pointer: str = "",
        html: bool = False, version: object = None,
    ) -> str:
        """Render `text`; any failure (syntax, undefined name, sandbox refusal, arithmetic)
        is a ValidationFailed naming `pointer`."""
        try:
            template = self.compiled(text, html=html, version=version)
            return within_time_limit(lambda: _streamed(template, variables))
        except Exception as exc:  # the template's own error, reported, never a crash
            reason = (f"template syntax error: {exc.message}"
                      if isinstance(exc, TemplateSyntaxError) else failure_reason(exc))
            raise ValidationFailed(f"the template at {pointer or '/'} failed: {reason}",
                                   [ErrorDetail(reason, pointer)]) from None


def _streamed(template: Template, variables: Mapping[str, Any]) -> str:
    """The rendered text, stopped as soon as it passes `MAX_TEXT` characters."""
    parts: list[str] = []
    size = 0
    for part in template.generate(variables):
        size += len(part)
        if size > MAX_TEXT:
            raise SandboxLimit(f"the rendered text is longer than {MAX_TEXT} characters")
        parts.append(part)
    return "".join(parts)
