"""The metadata history (`/app/admin/history`): every version, its diff, and restoring one.

Restoring version n applies n's documents again as a NEW version (history is never
rewritten). Like every designer change it shows the plan first; applying names the
version the plan was made against, so a change that landed in between is refused (412),
and a destructive restore needs the confirmation box.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from metacrm.services.metadata import history as metadata_history
from metacrm.web.blueprints import screen_blueprint
from metacrm.web.context import admin_required, services, web_actor
from metacrm.web.designer.changes import metadata_admin
from metacrm.web.i18n import t

web_designer_history = screen_blueprint("web_designer_history", __name__,
                                        url_prefix="/app/admin/history")


def plan_summary(plan: Any) -> dict[str, int]:
    """How many operations a stored plan had, and how many were destructive."""
    operations = list((plan or {}).get("operations", ()))
    return {"operations": len(operations),
            "destructive": sum(1 for op in operations if op.get("destructive"))}


@web_designer_history.route("")
@admin_required
def history() -> str:
    versions = metadata_admin().versions()
    live = versions[0].number if versions else 0
    rows = [{"version": version, "summary": plan_summary(version.plan)} for version in versions]
    return render_template("metacrm/designer/history.html", rows=rows, live=live)


@web_designer_history.route("/<int:number>")
@admin_required
def version_page(number: int) -> str:
    stored, diffs = metadata_history.version_diff(services().metadata, number)
    live = services().metadata.live().number
    return render_template("metacrm/designer/history_version.html", version=stored,
                           diffs=diffs, live=live, summary=plan_summary(stored.plan),
                           operations=list((stored.plan or {}).get("operations", ())))


@web_designer_history.route("/<int:number>/restore", methods=["GET", "POST"])
@admin_required
def restore_preview(number: int) -> tuple[str, int]:
    """The plan of restoring version `number` (POST from the history pages; GET works too,
    it changes nothing)."""
    dry_run = metadata_history.plan_restore(services().metadata, number)
    report = dry_run.to_json()
    return render_template(
        "metacrm/designer/history_restore.html", number=number, report=report,
        comment=t("Restore version %(version)s", version=number),
    ), 422 if dry_run.errors else 200


@web_designer_history.route("/<int:number>/restore/apply", methods=["POST"])
@admin_required
def restore_apply(number: int) -> BaseResponse:
    form = request.form
    try:
        expected = int(form.get("expected_version") or 0)
    except ValueError:
        expected = 0
    actor = web_actor()
    comment = (form.get("comment") or "").strip()[:500] or t(
        "Restore version %(version)s", version=number)
    change = metadata_admin().restore(
        number, author=actor.username if actor else None, comment=comment,
        confirm_destructive=form.get("confirm_destructive") == "yes",
        if_match=expected or None)
    if change.changed:
        flash(t("Version %(old)s restored as metadata version %(version)s.", old=number,
                version=change.version), "success")
    else:
        flash(t("Nothing changed."), "info")
    return redirect(url_for("web_designer_history.history"))
