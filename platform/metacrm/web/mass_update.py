"""The mass update screen (`POST /app/r/<entity>/mass-update`), reached from the list's bulk
bar: first the chosen field's widget for the selected records, then the change itself
(`web.list_mass_update`). Its own inputs are `_`-prefixed, which no field name can be, so
the value widget may carry any field's name."""

from __future__ import annotations

from urllib.parse import parse_qsl

from flask import flash, redirect, render_template, request
from werkzeug.wrappers import Response as BaseResponse

from metacrm.kernel.errors import Forbidden, MetacrmError, ValidationFailed
from metacrm.web import list_mass_update
from metacrm.web.blueprints import screen_blueprint
from metacrm.web.context import login_required, services
from metacrm.web.form_fields import FormValue, Widget, default_form_values
from metacrm.web.form_parsing import field_errors, parse_form
from metacrm.web.i18n import label, t, tn
from metacrm.web.list_bulk import MAX_SELECTED
from metacrm.web.record_form import readable_entities
from metacrm.web.record_list import list_context

web_mass_update = screen_blueprint("web_mass_update", __name__, url_prefix="/app/r")

STEP_APPLY = "apply"


@web_mass_update.post("/<entity>/mass-update")
@login_required
def mass_update(entity: str) -> BaseResponse | tuple[str, int]:
    applying = request.form.get("_step") == STEP_APPLY
    state = request.form.get("_state" if applying else "state", "")
    context = list_context(entity, parse_qsl(state))
    back = context.state.url(context.path)
    ids = [i for i in dict.fromkeys(request.form.getlist("_ids" if applying else "ids"))
           if i][:MAX_SELECTED]
    records = services().records
    subject = context.subject
    if not records.runtime().policy.scope(subject, entity, "update").allowed:
        raise Forbidden(t("Your roles do not allow changing these records."))
    if not ids:
        flash(t("Select at least one record first."), "error")
        return redirect(back)
    widgets = list_mass_update.editable_widgets(records, subject, entity,
                                                link_targets=readable_entities(subject))
    plural = label(context.visible.plural_label, entity)
    name = request.form.get("_field", "").strip()
    widget = widgets.get(name)
    if widget is None:  # not offered: unknown, hidden, read-only — nothing is written
        flash(list_mass_update.unknown_field(name).message, "error")
        return redirect(back)
    if not applying:
        return _page(entity, plural, widget, ids, state, back,
                     default_form_values({name: widget})[name])
    try:
        outcome = list_mass_update.apply(records, subject, entity, ids, widget, request.form)
    except ValidationFailed as error:
        submitted = parse_form(request.form, records.runtime().policy.entity(entity),
                               only=[name]).submitted
        by_field, general = field_errors(error, [name])
        return _page(entity, plural, widget, ids, state, back, submitted.get(name, ""),
                     by_field.get(name, []) + general, 422)
    except MetacrmError as error:  # the batch as a whole (a trigger refused the commit)
        flash(error.message, "error")
        return redirect(back)
    if outcome.done:
        flash(tn("%(count)s record changed.", "%(count)s records changed.", outcome.done),
              "success")
    for title, why in outcome.failures:
        flash(t("%(record)s: %(reason)s", record=title, reason=why), "error")
    return redirect(back)


def _page(entity: str, plural: str, widget: Widget, ids: list[str], state: str, back: str,
          value: FormValue, errors: list[str] | None = None, status: int = 200
          ) -> tuple[str, int]:
    return render_template(
        "metacrm/mass_update.html", entity=entity, plural_label=plural, widget=widget,
        ids=ids, state=state, back=back, value=value, errors=errors or [],
    ), status
