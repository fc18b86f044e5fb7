"""Mass update from a list's bulk bar: one field set to one value on the selected records.

The bulk bar offers the fields the user may edit (visible, not read-only for them, not
assigned by the engine; system columns are never fields); choosing one opens a page with
that field's form widget. The change goes through `RecordsService.bulk_update` with
`refusals`: each record's update scope, field security and locked states are checked by the
service, a refused record is listed with its title and a translated reason, and the others
are written. A posted field that was not offered is refused before anything is written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from werkzeug.datastructures import MultiDict

from metacrm.access.subject import AccessSubject
from metacrm.kernel.errors import ErrorDetail, MetacrmError, ValidationFailed
from metacrm.services.records.service import RecordsService
from metacrm.web.form_fields import Widget, active_users, build_widgets
from metacrm.web.form_parsing import parse_form, pointer_field
from metacrm.web.i18n import t
from metacrm.web.list_bulk import titles_of
from metacrm.web.refusals import refusal_text

FIELD = "_field"
"""The form input naming the field to change."""


def editable_widgets(records: RecordsService, subject: AccessSubject, entity: str,
                     users_offered: Sequence[tuple[str, str]] | None = None,
                     link_targets: Mapping[str, str] | None = None) -> dict[str, Widget]:
    """The widgets of the fields `subject` may set on `entity`'s records, by field name."""
    runtime = records.runtime()
    visible = records.visible_entity(subject, entity)
    users = tuple(users_offered) if users_offered is not None else (
        active_users(records.engine) if any(f.type == "user" for f in visible.fields) else ())
    widgets = build_widgets(visible, runtime.policy.field_access(subject, entity),
                            records.registry, creating=False, users=users,
                            link_targets=link_targets)
    return {name: widget for name, widget in widgets.items() if not widget.read_only}


@dataclass
class MassUpdateOutcome:
    done: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)
    """(record title, translated reason) of each record left unchanged."""


def apply(records: RecordsService, subject: AccessSubject, entity: str, ids: Sequence[str],
          widget: Widget, form: MultiDict[str, str]) -> MassUpdateOutcome:
    """Set the widget's field to the posted value on every record of `ids` the subject may
    change. ValidationFailed (nothing written) when the value cannot be read at all."""
    live = records.runtime().policy.entity(entity)
    parsed = parse_form(form, live, only=[widget.name])
    if parsed.errors:
        raise ValidationFailed(t("The value cannot be used."), parsed.errors)
    changes = {widget.name: parsed.payload.get(widget.name)}
    refusals: dict[int, MetacrmError] = {}
    records.bulk_update(subject, entity, [{"id": record_id, "changes": changes}
                                          for record_id in ids], refusals=refusals)
    outcome = MassUpdateOutcome(done=len(ids) - len(refusals))
    if refusals:
        refused = {ids[index]: error for index, error in refusals.items()}
        titles = titles_of(records, subject, entity, list(refused))
        outcome.failures = [(titles.get(record_id, record_id), reason_text(error, widget))
                            for record_id, error in refused.items()]
    return outcome


def reason_text(error: MetacrmError, widget: Widget) -> str:
    """Why one record was refused, in the user's words: a value the field refuses is named
    with the field's label; anything else by the kind of refusal."""
    if isinstance(error, ValidationFailed):
        messages = [detail.message for detail in error.errors
                    if pointer_field(detail.pointer) == widget.name and detail.message]
        if messages:
            return t("%(field)s: %(problem)s", field=widget.label,
                     problem="; ".join(messages))
    return refusal_text(error)


def unknown_field(name: str) -> ValidationFailed:
    """A field that was not offered (unknown, hidden, read-only or engine-assigned), or
    none chosen."""
    message = (t("This field cannot be changed in bulk.") if name
               else t("Choose the field to change first."))
    return ValidationFailed(message, [ErrorDetail(message, f"/{FIELD}")])


def field_labels(widgets: Mapping[str, Widget]) -> list[tuple[str, str]]:
    """(name, label) of the editable fields, by label, for the bulk bar's select."""
    return sorted(((name, widget.label) for name, widget in widgets.items()),
                  key=lambda pair: pair[1].casefold())
