"""Preview and apply a designer change: the plan and the errors first, then one version.

Editors call `preview_change(bodies, …)` with the complete new documents. The preview page
carries them as JSON in a hidden field; applying posts them back with the version they were
planned against, so a change another admin applied in between is refused (412), never
silently overwritten. Destructive plans need the admin to tick a confirmation (their data
is archived, not lost).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from flask import flash, redirect, render_template, request
from werkzeug.wrappers import Response as BaseResponse

from metacrm.kernel.errors import ErrorDetail, ValidationFailed
from metacrm.services.metadata.admin import MetadataAdmin
from metacrm.web.blueprints import screen_blueprint
from metacrm.web.context import admin_required, services, web_actor
from metacrm.web.i18n import t

web_changes = screen_blueprint("web_changes", __name__, url_prefix="/app/admin/changes")


def metadata_admin() -> MetadataAdmin:
    return MetadataAdmin(services().metadata)


def live_body(kind: str, name: str) -> dict[str, Any] | None:
    """The live document (kind, name) as a JSON object to edit, or None."""
    _, documents = metadata_admin().live_documents()
    for document in documents:
        if (document.kind, document.name) == (kind, name):
            copy: dict[str, Any] = json.loads(json.dumps(document.body))
            return copy
    return None


def preview_change(bodies: Sequence[Mapping[str, Any]], *, title: str, back_url: str,
                   done_url: str, comment: str = "") -> tuple[str, int]:
    """The preview page of a change: plan, errors and the Apply button (422 when invalid)."""
    dry_run = metadata_admin().plan(list(bodies), pointer="")
    report = dry_run.to_json()
    status = 422 if dry_run.errors else 200
    return render_template(
        "metacrm/designer/preview.html", title=title, report=report,
        documents=json.dumps(list(bodies), ensure_ascii=False), back_url=back_url,
        done_url=done_url, comment=comment or title,
        names=[f"{body.get('kind')} {body.get('name')}" for body in bodies]), status


@web_changes.route("/apply", methods=["POST"])
@admin_required
def apply_change() -> BaseResponse | tuple[str, int]:
    form = request.form
    done_url = _local(form.get("done_url"), "/app/admin/")
    back_url = _local(form.get("back_url"), "/app/admin/")
    try:
        bodies = json.loads(form.get("documents") or "[]")
        expected = int(form.get("expected_version") or 0)
    except ValueError:
        raise ValidationFailed(t("The change could not be read; start again."),
                               [ErrorDetail("not a JSON list", "/documents")]) from None
    if not isinstance(bodies, list) or not bodies:
        raise ValidationFailed(t("The change could not be read; start again."),
                               [ErrorDetail("no documents", "/documents")])
    actor = web_actor()
    change = metadata_admin().put_all(
        bodies, author=actor.username if actor else None,
        comment=(form.get("comment") or "designer change")[:500],
        confirm_destructive=form.get("confirm_destructive") == "yes",
        if_match=expected or None)
    if change.changed:
        flash(t("Applied as metadata version %(version)s.", version=change.version), "success")
    else:
        flash(t("Nothing changed."), "info")
    del back_url
    return redirect(done_url)


def _local(url: str | None, fallback: str) -> str:
    """Only paths of this site (no open redirects through the designer's forms)."""
    if url and url.startswith("/") and not url.startswith("//") and "\\" not in url:
        return url
    return fallback
