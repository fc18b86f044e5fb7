"""Merges on the screens: the merge screen (records side by side, the surviving value per
field), undo, and the review of an entity's duplicate groups (the "possible duplicates"
panel of record pages and forms is `web.duplicate_panel`).

Thin: every read and write goes through `services.duplicates.review` and
`services.records.merge` with the signed-in user's subject, so the panel names only
records the user may read and a merge needs the same rights as in the API.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request
from werkzeug.wrappers import Response as BaseResponse

from metacrm.access.subject import AccessSubject
from metacrm.kernel.errors import MetacrmError, NotFound
from metacrm.services.duplicates.review import DuplicateGroup, DuplicateReview
from metacrm.services.records.merge import MergeService
from metacrm.web.blueprints import screen_blueprint
from metacrm.web.context import login_required, services, web_subject
from metacrm.web.duplicate_panel import merge_url
from metacrm.web.i18n import label, t
from metacrm.web.record_page import model, record_url
from metacrm.web.values import ValueDisplay, record_reader

web_record_merge = screen_blueprint("web_record_merge", __name__, url_prefix="/app/r")

SCAN_LIMIT = 500
"""Groups the review screen lists."""
PAGE = 500


@web_record_merge.route("/<entity>/merge", methods=["GET", "POST"])
@login_required
def merge_screen(entity: str) -> BaseResponse | tuple[str, int]:
    subject = web_subject()
    merges = MergeService(services().records)
    ids = [i for i in dict.fromkeys(request.values.getlist("ids")) if i]
    if request.method == "POST":
        try:
            result = merges.merge(subject, entity, _merge_body(subject, entity, ids))
        except NotFound:
            raise
        except MetacrmError as error:
            return _render(subject, entity, ids, error=error.message, status=error.status)
        flash(t("Records merged."), "success")
        return redirect(record_url(entity, str(result["record"]["id"])))
    return _render(subject, entity, ids)


def _merge_body(subject: AccessSubject, entity: str, ids: list[str]) -> dict[str, Any]:
    """The merge API's body from the form: the survivor, and per field the value of the
    record picked for it (when it is not the survivor's)."""
    survivor = request.form.get("survivor", "")
    records = services().records
    by_id = {i: records.get(subject, entity, i) for i in ids}
    values: dict[str, Any] = {}
    for key, picked in request.form.items():
        if not key.startswith("value.") or picked == survivor or picked not in by_id:
            continue
        name = key.removeprefix("value.")
        values[name] = by_id[picked].get(name)
    return {"ids": ids, "survivor": survivor, "values": values}


def _render(subject: AccessSubject, entity: str, ids: list[str], *, error: str = "",
            status: int = 200) -> tuple[str, int]:
    records = services().records
    preview = MergeService(records).preview(subject, entity, ids)
    visible = records.visible_entity(subject, entity)
    display = ValueDisplay(model(), {}, fetch=record_reader(subject))
    display.load_users(services().engine, ValueDisplay.user_ids(visible, preview["records"]))
    page = render_template(
        "metacrm/merge.html", entity=visible,
        plural_label=label(visible.plural_label, entity), records=preview["records"],
        titles=[display.title(visible, r) for r in preview["records"]],
        fields=[f.name for f in visible.fields if not f.read_only],
        field_labels={f.name: label(f.label, f.name) for f in visible.fields},
        differing=set(preview["differing"]), display=display, error=error)
    return page, status


@web_record_merge.post("/<entity>/merges/<merge_id>/undo")
@login_required
def undo_merge(entity: str, merge_id: str) -> BaseResponse:
    result = MergeService(services().records).undo(web_subject(), entity, merge_id)
    flash(t("The merge was undone."), "success")
    return redirect(record_url(entity, str(result["record"]["id"])))


@web_record_merge.post("/<entity>/duplicates/scan")
@login_required
def run_scan(entity: str) -> BaseResponse:
    """Queue a scan job; the review screen shows its result when it is done."""
    services().services.duplicate_scans.request(web_subject(), entity)
    flash(t("The scan was started; its result appears here when it is done."), "success")
    return redirect(f"/app/r/{entity}/duplicates")


@web_record_merge.get("/<entity>/duplicates")
@login_required
def duplicate_groups(entity: str) -> tuple[str, int]:
    """The latest scan job's groups (re-filtered by what the user may read now), or,
    before any scan, the groups found now (at most SCAN_LIMIT)."""
    subject = web_subject()
    records = services().records
    visible = records.visible_entity(subject, entity)
    scan = services().services.duplicate_scans.latest(subject, entity)
    groups = ([DuplicateGroup(entity, g["rule"], g["key"], tuple(g["ids"]))
               for g in scan["groups"][:SCAN_LIMIT]] if scan is not None
              else DuplicateReview(records).scan(subject, entity, limit=SCAN_LIMIT))
    wanted = sorted({i for g in groups for i in g.ids})
    found: dict[str, Any] = {}
    for start in range(0, len(wanted), PAGE):
        part = wanted[start:start + PAGE]
        found.update((str(r["id"]), r) for r in records.list(
            subject, entity, criteria={"field": "id", "op": "in", "value": part},
            limit=len(part)).records)
    display = ValueDisplay(model(), {}, fetch=record_reader(subject))
    shown = [{"rule": g.rule, "merge_url": merge_url(entity, list(g.ids)),
              "records": [(i, display.title(visible, found[i]) if i in found else i)
                          for i in g.ids]} for g in groups]
    page = render_template("metacrm/duplicates.html", entity=visible,
                           plural_label=label(visible.plural_label, entity), groups=shown,
                           scan=scan)
    return page, 200
