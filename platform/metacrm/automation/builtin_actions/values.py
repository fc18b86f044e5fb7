"""Field values in action params: a literal, `{"template": "..."}` or `{"formula": "..."}`.

* a literal is the field's JSON value, as the REST API takes it (checked by the field type
  when the metadata is checked);
* `{"template": "Call {{ record.first_name }}"}` renders text (see `templates.py`); for a
  field that is not text the rendered text is read as the API would read it ("2024-05-31"
  for a date), and blank text means no value;
* `{"formula": "record.amount * 0.1"}` computes a value (see `formulas.py`).

An object with exactly one key `template` or `formula` is always one of these forms, so a
`json` field cannot be given such an object as a literal. `owner` may be set like a field:
a user id, or a template or formula giving one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from metacrm.automation.builtin_actions.support import ActionSupport
from metacrm.fieldtypes.base import FieldValueError
from metacrm.kernel.errors import ErrorDetail, ValidationFailed
from metacrm.metadata.model import EntityDef, FieldDef

TEMPLATE = "template"
FORMULA = "formula"
OWNER = "owner"
TEXT_TYPES = frozenset({"text", "textarea"})


def value_form(value: Any) -> tuple[str, Any] | None:
    """(`template` | `formula`, text) when `value` is a computed form, else None."""
    if isinstance(value, Mapping) and len(value) == 1:
        ((key, text),) = value.items()
        if key in (TEMPLATE, FORMULA):
            return key, text
    return None


def unwritable(field: FieldDef) -> str | None:
    """Why an action may not set `field`, or None when it may."""
    if field.type == "auto_number":
        return "is numbered by the engine"
    if field.type == "state":
        return "moves only through a transition (use the transition action)"
    if field.read_only:
        return "is read-only"
    return None


class ValueForms:
    """Checks and resolves the `values` of set_fields, create_record and transition."""

    def __init__(self, support: ActionSupport) -> None:
        self.support = support

    def check(
        self, values: Any, *, source: EntityDef, target: EntityDef, pointer: str
    ) -> list[ErrorDetail]:
        """Problems with `values` for fields of `target`, computed from records of
        `source` (the trigger's entity)."""
        if not isinstance(values, Mapping):
            return [ErrorDetail("must be an object of field values", pointer)]
        errors: list[ErrorDetail] = []
        for name, value in values.items():
            at = f"{pointer}/{name}"
            fdef = target.field(name)
            if name != OWNER and fdef is None:
                errors.append(ErrorDetail(f"{target.name} has no field {name!r}", at))
                continue
            if fdef is not None and (reason := unwritable(fdef)) is not None:
                errors.append(ErrorDetail(f"field {name!r} {reason}", at))
                continue
            errors += self._check_value(value, fdef, source, at)
        return errors

    def _check_value(
        self, value: Any, fdef: FieldDef | None, source: EntityDef, at: str
    ) -> list[ErrorDetail]:
        form = value_form(value)
        if form is not None:
            kind, text = form
            if kind == TEMPLATE:
                return self.support.templates.check(text, f"{at}/{TEMPLATE}", source)
            return self.support.formulas.check(text, f"{at}/{FORMULA}", source)
        if value is None:
            return []
        if fdef is None:  # owner
            if not isinstance(value, str) or not value.strip() or len(value) > 64:
                return [ErrorDetail("the owner must be a user id", at)]
            return []
        try:
            self.support.services.registry.get(fdef.type).normalize(fdef, value)
        except (FieldValueError, ValueError, TypeError) as exc:
            return [ErrorDetail(f"{exc}", at)]
        return []

    def resolve(
        self, values: Mapping[str, Any], *, target: EntityDef, variables: Mapping[str, Any],
        pointer: str,
    ) -> dict[str, Any]:
        """The JSON values to write: templates rendered, formulas computed."""
        resolved: dict[str, Any] = {}
        version = self.support.version()
        for name, value in values.items():
            at = f"{pointer}/{name}"
            fdef = target.field(name)
            form = value_form(value)
            if form is None:
                resolved[name] = value
                continue
            kind, text = form
            if kind == TEMPLATE:
                rendered = self.support.templates.render(
                    text, variables, pointer=f"{at}/{TEMPLATE}", version=version)
                text_field = fdef is not None and fdef.type in TEXT_TYPES
                resolved[name] = rendered if text_field or rendered.strip() else None
            elif fdef is None:  # owner
                result = self.support.formulas.evaluate(
                    text, variables, pointer=f"{at}/{FORMULA}", version=version)
                resolved[name] = None if result is None else str(result)
            else:
                resolved[name] = self.support.formulas.value_for(
                    fdef, text, variables, pointer=f"{at}/{FORMULA}", version=version)
        return resolved

    def validate(self, values: Mapping[str, Any], *, target: EntityDef, pointer: str) -> None:
        """Refuse values their fields' types refuse (what a dry run can know without
        writing); the write itself checks the rest."""
        errors = []
        for name, value in values.items():
            fdef = target.field(name)
            if fdef is None or value is None:
                continue
            try:
                self.support.services.registry.get(fdef.type).normalize(fdef, value)
            except (FieldValueError, ValueError, TypeError) as exc:
                errors.append(ErrorDetail(f"{exc}", f"{pointer}/{name}"))
        if errors:
            raise ValidationFailed(f"invalid {target.name} values", errors)
