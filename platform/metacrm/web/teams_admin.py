"""Teams admin, `/app/admin/teams` (administrators only): the team hierarchy as a tree;
create a team under a parent, rename (its display name), move, delete; add and remove members.

Every write goes through the directory the access layer reads (`services().teams`, the
`TeamDirectory` the CLI uses), which forgets its cached team memberships at once — so the
`team` scope of the people concerned changes with the next request. The user picker lists
users from `identity.fab_directory.user_listings`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask import flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from metacrm.access.teams import Team, descendants
from metacrm.identity.fab_directory import UserListing, user_listings
from metacrm.kernel.errors import Conflict, MetacrmError, NotFound, ValidationFailed
from metacrm.services.users.team_admin import memberships, relabel_team
from metacrm.web.blueprints import screen_blueprint
from metacrm.web.context import admin_required, services
from metacrm.web.i18n import t

web_teams = screen_blueprint("web_teams", __name__, url_prefix="/app/admin/teams")

PICKER_LIMIT = 200


@dataclass
class TeamNode:
    """A team on the page: its sub-teams, members and the parents it may move under."""

    team: Team
    members: list[UserListing]
    children: list[TeamNode] = field(default_factory=list)
    parents: list[Team] = field(default_factory=list)

    @property
    def title(self) -> str:
        return self.team.label or self.team.name


def team_tree(all_teams: Sequence[Team], members: Mapping[str, Sequence[str]],
              users: Mapping[str, UserListing]) -> list[TeamNode]:
    """The teams as a forest (roots and children sorted by title)."""
    children: dict[str, list[str]] = {}
    for team in all_teams:
        if team.parent is not None:
            children.setdefault(team.parent, []).append(team.name)
    nodes = {}
    for team in all_teams:
        below = set(descendants(children, [team.name]))
        nodes[team.name] = TeamNode(
            team, [users.get(uid) or UserListing(uid, uid, uid)
                   for uid in members.get(team.name, ())],
            parents=[other for other in all_teams if other.name not in below])
    roots: list[TeamNode] = []
    for node in nodes.values():
        parent = nodes.get(node.team.parent) if node.team.parent else None
        (parent.children if parent is not None else roots).append(node)
    for node in nodes.values():
        node.children.sort(key=lambda item: item.title.lower())
    return sorted(roots, key=lambda item: item.title.lower())


def _page(*, errors: Mapping[str, str] | None = None, values: Mapping[str, str] | None = None,
          status: int = 200) -> tuple[str, int]:
    search = (request.args.get("q") or "").strip()[:100] or None
    with services().engine.connect() as conn:
        all_teams = services().teams.list_teams(conn)
        members = memberships(conn)
        member_ids = {uid for ids in members.values() for uid in ids}
        known = {u.id: u for u in user_listings(conn, ids=member_ids)} if member_ids else {}
        picker = user_listings(conn, active_only=True, search=search, limit=PICKER_LIMIT)
    return render_template("metacrm/teams.html", tree=team_tree(all_teams, members, known),
                           teams=all_teams, picker=picker, search=search or "",
                           picker_full=len(picker) >= PICKER_LIMIT, errors=errors or {},
                           values=values or {}), status


@web_teams.get("")
@admin_required
def teams_page() -> tuple[str, int]:
    return _page()


@web_teams.post("")
@admin_required
def create() -> tuple[str, int] | BaseResponse:
    name = (request.form.get("name") or "").strip()
    label = (request.form.get("label") or "").strip() or None
    parent = request.form.get("parent") or None
    try:
        with services().engine.begin() as conn:
            services().teams.create_team(conn, name, parent=parent, label=label)
    except (ValidationFailed, Conflict) as error:
        return _page(errors=field_errors(error), values=request.form.to_dict(), status=422)
    flash(t("Team “%(name)s” created.", name=label or name), "success")
    return redirect(url_for("web_teams.teams_page"))


def _act(action: Callable[[sa.Connection], object], done: str) -> BaseResponse:
    """Run one change of the directory; the outcome (or what was wrong) as a flash."""
    try:
        with services().engine.begin() as conn:
            action(conn)
    except MetacrmError as error:
        flash(" ".join(field_errors(error).values()) or error.message, "error")
    else:
        flash(done, "success")
    return redirect(url_for("web_teams.teams_page"))


@web_teams.post("/<name>/label")
@admin_required
def rename(name: str) -> BaseResponse:
    label = request.form.get("label") or ""
    return _act(lambda conn: relabel_team(conn, name, label),
                t("Team “%(name)s” renamed.", name=label.strip() or name))


@web_teams.post("/<name>/parent")
@admin_required
def move(name: str) -> BaseResponse:
    parent = request.form.get("parent") or None
    return _act(lambda conn: services().teams.move_team(conn, name, parent),
                t("Team “%(name)s” moved.", name=name))


@web_teams.post("/<name>/delete")
@admin_required
def delete(name: str) -> BaseResponse:
    return _act(lambda conn: services().teams.delete_team(conn, name),
                t("Team “%(name)s” deleted.", name=name))


@web_teams.post("/<name>/members")
@admin_required
def add_member(name: str) -> BaseResponse:
    user_id = request.form.get("user_id") or ""

    def add(conn: sa.Connection) -> None:
        if not user_listings(conn, ids={user_id}):
            raise NotFound(t("There is no such user."))
        services().teams.add_member(conn, name, user_id)

    return _act(add, t("Member added to “%(name)s”.", name=name))


@web_teams.post("/<name>/members/<user_id>/remove")
@admin_required
def remove_member(name: str, user_id: str) -> BaseResponse:
    return _act(lambda conn: services().teams.remove_member(conn, name, user_id),
                t("Member removed from “%(name)s”.", name=name))


def field_errors(error: MetacrmError) -> dict[str, str]:
    """The directory's refusals by form field, in the user's language."""
    found: dict[str, str] = {}
    for detail in error.errors:
        key = detail.pointer.strip("/") or "name"
        if isinstance(error, Conflict) and key == "name" and "exists" in detail.message:
            found[key] = t("A team of this name exists already.")
        elif isinstance(error, Conflict) and key == "name":
            found[key] = t("Move or delete its sub-teams first.")
        elif key == "name":
            found[key] = t("Use letters, digits, spaces, “_”, “-” or “.”, starting with a "
                           "letter or digit.")
        elif key == "parent" and "sub-teams" in detail.message:
            found[key] = t("A team cannot move under itself or one of its sub-teams.")
        elif key in ("parent", "team"):
            found[key] = t("There is no such team.")
        elif key == "label":
            found[key] = t("At most 200 characters.")
        elif key == "user_id":
            found[key] = t("There is no such user.")
        else:
            found[key] = detail.message
    return found
