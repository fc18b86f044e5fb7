"""The Packs page (`/app/admin/packs`): install, upgrade and uninstall packs from the designer.

The same lifecycle as `metacrm pack ...`: each button opens a review page with the plan
(`PackPlan.describe`, what `metacrm pack plan` prints) — packs, documents, schema migration,
what gets archived, data migrations, settings — and applying posts the form back (CSRF
checked) to run the change all or nothing. Only packs that are already available (on
METACRM_METADATA_PATH, in `extensions/`, or pip-installed) can be installed here; a folder
path is a command-line matter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from flask import abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from metacrm.composition import pack_lifecycle as process_lifecycle
from metacrm.kernel.errors import MetacrmError
from metacrm.packs.lifecycle import PackLifecycle
from metacrm.packs.pack_plan import PackPlan
from metacrm.web.blueprints import screen_blueprint
from metacrm.web.context import admin_required, services
from metacrm.web.i18n import label, t

web_designer_packs = screen_blueprint("web_designer_packs", __name__,
                                      url_prefix="/app/admin/packs")

Action = Literal["install", "upgrade", "uninstall"]
ACTIONS: tuple[Action, ...] = ("install", "upgrade", "uninstall")


def pack_lifecycle() -> PackLifecycle:
    return process_lifecycle(services().services)


@dataclass(frozen=True)
class PackRow:
    name: str
    label: str
    description: str
    installed: str | None
    available: str | None
    state: str
    actions: tuple[Action, ...]


def pack_rows(lifecycle: PackLifecycle) -> list[PackRow]:
    installed = lifecycle.installed()
    available = lifecycle.available()
    rows = []
    for name in sorted(installed.keys() | available.keys()):
        row = installed.get(name)
        offer = available.get(name)
        manifest = offer.manifest if offer is not None else row.manifest  # type: ignore[union-attr]
        actions: list[Action] = []
        if row is None:
            state, actions = t("available"), ["install"]
        else:
            actions = ["upgrade", "uninstall"] if offer is not None else ["uninstall"]
            state = (t("upgrade available")
                     if offer is not None and offer.manifest.version > row.manifest.version
                     else t("installed"))
        rows.append(PackRow(
            name=name, label=label(manifest.label, name),
            description=label(manifest.description),
            installed=str(row.manifest.version) if row is not None else None,
            available=str(offer.manifest.version) if offer is not None else None,
            state=state, actions=tuple(actions)))
    return rows


@web_designer_packs.route("")
@admin_required
def packs() -> str:
    return render_template("metacrm/designer/packs.html", rows=pack_rows(pack_lifecycle()))


def _plan(lifecycle: PackLifecycle, action: Action, name: str) -> PackPlan:
    if action == "install":
        return lifecycle.plan_install(name)
    if action == "upgrade":
        return lifecycle.plan_upgrade(name)
    return lifecycle.plan_uninstall(name)


def _title(action: Action, name: str) -> str:
    if action == "install":
        return t("Install pack %(name)s", name=name)
    if action == "upgrade":
        return t("Upgrade pack %(name)s", name=name)
    return t("Uninstall pack %(name)s", name=name)


@web_designer_packs.route("/<action>/<name>")
@admin_required
def review(action: str, name: str) -> tuple[str, int]:
    """The plan of a pack change; nothing changes. A refused change shows its errors."""
    if action not in ACTIONS:
        abort(404)
    chosen: Action = action
    title = _title(chosen, name)
    try:
        plan = _plan(pack_lifecycle(), chosen, name)
    except MetacrmError as error:
        return render_template("metacrm/designer/pack_review.html", title=title,
                               action=chosen, name=name, plan=None, error=error), error.status
    return render_template("metacrm/designer/pack_review.html", title=title, action=chosen,
                           name=name, plan=plan, error=None), 200


@web_designer_packs.route("/<action>/<name>/apply", methods=["POST"])
@admin_required
def apply(action: str, name: str) -> BaseResponse:
    """Run the change reviewed (all or nothing); errors show on the error page."""
    if action not in ACTIONS:
        abort(404)
    lifecycle = pack_lifecycle()
    confirm = request.form.get("confirm_destructive") == "yes"
    if action == "install":
        result = lifecycle.install(name, confirm_destructive=confirm)
        flash(t("Pack %(name)s installed.", name=name), "success")
    elif action == "upgrade":
        result = lifecycle.upgrade(name, confirm_destructive=confirm)
        flash(t("Pack %(name)s upgraded.", name=name), "success")
    else:
        result = lifecycle.uninstall(name)
        flash(t("Pack %(name)s uninstalled; its data is archived.", name=name), "success")
    if result.version is not None:
        flash(t("Live version: %(version)s", version=result.version.number), "info")
    return redirect(url_for("web_designer_packs.packs"))
