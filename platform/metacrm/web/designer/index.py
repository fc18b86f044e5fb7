"""The designer's start page (`/app/admin/`): one place to reach every admin tool.

The entity and history designers live in this package; pipelines, permissions, triggers,
layouts and teams are their own screens, and users and roles are Flask-AppBuilder's pages.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import render_template

from metacrm.web.blueprints import screen_blueprint
from metacrm.web.context import admin_required, services
from metacrm.web.i18n import t, tn

web_designer = screen_blueprint("web_designer", __name__, url_prefix="/app/admin")


@dataclass(frozen=True)
class Tool:
    key: str
    url: str
    title: str
    description: str
    note: str = ""


@web_designer.route("/")
@admin_required
def index() -> str:
    live = services().metadata.live()
    model = live.model
    tools = [
        Tool("entities", "/app/admin/entities", t("Entities and fields"),
             t("Create entities; add, edit, reorder and hide fields; edit picklist values."),
             tn("%(count)s entity", "%(count)s entities", len(model.entities))),
        Tool("pipelines", "/app/admin/pipelines", t("Pipelines"),
             t("States, transitions, guards and who may move records."),
             tn("%(count)s pipeline", "%(count)s pipelines", len(model.pipelines))),
        Tool("permissions", "/app/admin/permissions", t("Permissions"),
             t("What each role may see and do, entity by entity and field by field."),
             tn("%(count)s role", "%(count)s roles", len(model.roles))),
        Tool("triggers", "/app/admin/triggers", t("Triggers"),
             t("Automation: conditions and the actions they run."),
             tn("%(count)s trigger", "%(count)s triggers", len(model.triggers))),
        Tool("duplicate_rules", "/app/admin/duplicate-rules", t("Duplicate rules"),
             t("When a record duplicates another: the fields compared, and warn or block."),
             tn("%(count)s rule", "%(count)s rules", len(model.duplicate_rules))),
        Tool("layouts", "/app/admin/layouts", t("Layouts"),
             t("List columns and form sections."),
             tn("%(count)s view", "%(count)s views", len(model.views))),
        Tool("teams", "/app/admin/teams", t("Teams"),
             t("Who works together and shares records.")),
        Tool("packs", "/app/admin/packs", t("Packs"),
             t("Install, upgrade and uninstall the CRM's modules and extensions.")),
        Tool("documents", "/app/admin/documents", t("Document templates"),
             t("Preview a document template on a real record."),
             tn("%(count)s template", "%(count)s templates", len(model.document_templates))),
        Tool("history", "/app/admin/history", t("History"),
             t("Every metadata version, what it changed, and restoring an old one."),
             t("Live version: %(version)s", version=live.number)),
        Tool("users", "/app/admin/users", t("Users"), t("Accounts, passwords and their roles.")),
        Tool("roles", "/app/admin/roles", t("Roles"), t("The roles users can be given.")),
    ]
    return render_template("metacrm/designer/index.html", tools=tools)
