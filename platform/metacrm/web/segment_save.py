""""Save as segment" from a list of persons, companies or leads: the list's current filter
becomes a new dynamic segment's criteria (`POST /app/r/<entity>/segments`), and the
browser goes to the segment's page, whose Members panel counts it. The quick search text
is not part of a segment (a segment is criteria only)."""

from __future__ import annotations

from urllib.parse import parse_qsl

from flask import flash, redirect, request
from werkzeug.wrappers import Response as BaseResponse

from metacrm.kernel.errors import Forbidden, NotFound, ValidationFailed
from metacrm.marketing.segments import AUDIENCE_ENTITIES, SEGMENT
from metacrm.web.context import login_required, services, web_subject
from metacrm.web.i18n import t
from metacrm.web.record_list import list_context, web_list


def may_save_segment(entity: str) -> bool:
    """Whether the list of `entity` offers "Save as segment" to the signed-in user."""
    if entity not in AUDIENCE_ENTITIES:
        return False
    try:
        policy = services().records.runtime().policy
        return policy.scope(web_subject(), SEGMENT, "create").allowed
    except NotFound:  # the marketing pack is not installed
        return False


@web_list.post("/<entity>/segments")
@login_required
def save_segment(entity: str) -> BaseResponse:
    context = list_context(entity, parse_qsl(request.form.get("state", "")))
    if context.state.query is None:
        flash(t("The segment was not saved: fix the filter first."), "error")
        return redirect(context.state.url(context.path))
    try:
        segment = services().records.create(context.subject, SEGMENT, {
            "name": request.form.get("name", ""), "entity": entity,
            "segment_type": "dynamic", "criteria": context.state.criteria})
    except (ValidationFailed, Forbidden):
        flash(t("Give the segment a name of at most 200 characters."), "error")
        return redirect(context.state.url(context.path))
    flash(t("Segment “%(name)s” saved.", name=segment["name"]), "success")
    return redirect(f"/app/r/{SEGMENT}/{segment['id']}")
