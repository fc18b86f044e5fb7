"""Users admin, `/app/admin/users` (administrators only): list people's accounts (search,
active or not, roles, teams, last login), create one with an initial password, roles and
teams, edit it, deactivate or activate it, delete it.

Accounts change through `identity.accounts` (Flask-AppBuilder's tables, through its ORM
session, so deactivation and lost roles end the user's sessions at once) and team
memberships through the team directory the access layer reads. The rules that protect the
administrators (not yourself, not the last active admin) are the account module's; this
module only reads the form and translates what was refused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response as BaseResponse

from metacrm.identity import accounts
from metacrm.identity.accounts import Account, AccountForm, AccountRefused
from metacrm.identity.bridge import identity_state
from metacrm.kernel.errors import ErrorDetail, MetacrmError, ValidationFailed
from metacrm.metadata.model import CompiledModel
from metacrm.services.users.team_admin import memberships
from metacrm.web.blueprints import screen_blueprint
from metacrm.web.context import admin_required, services, web_actor
from metacrm.web.i18n import label, t

web_users = screen_blueprint("web_users", __name__, url_prefix="/app/admin/users")

LIST_PAGE = "web_users.users_page"
Page = str | tuple[str, int] | BaseResponse


def _appbuilder() -> Any:
    return identity_state().appbuilder


def _model() -> CompiledModel:
    return services().metadata.live().model


def _acting_id() -> int | None:
    actor = web_actor()
    return int(actor.user_id) if actor is not None and actor.user_id.isdigit() else None


def role_choices(model: CompiledModel) -> list[tuple[str, str]]:
    """(name, label) of the roles people can be given, in the user's language."""
    return [(name, label(model.roles[name].label, name))
            for name in accounts.assignable_roles(model)]


def team_choices() -> list[tuple[str, str]]:
    with services().engine.connect() as conn:
        teams = services().teams.list_teams(conn)
    return sorted(((team.name, team.label or team.name) for team in teams),
                  key=lambda item: item[1].lower())


def teams_by_user() -> dict[str, list[str]]:
    with services().engine.connect() as conn:
        found = memberships(conn)
    by_user: dict[str, list[str]] = {}
    for team, user_ids in found.items():
        for user_id in user_ids:
            by_user.setdefault(user_id, []).append(team)
    return {user: sorted(names) for user, names in by_user.items()}


@web_users.get("")
@admin_required
def users_page() -> str:
    search = (request.args.get("q") or "").strip()[:100]
    status = request.args.get("status") or "all"
    if status not in accounts.STATUSES:
        status = "all"
    model = _model()
    found = accounts.list_accounts(_appbuilder(), search=search or None, status=status)
    role_labels = {name: label(role.label, name) for name, role in model.roles.items()}
    teams = dict(team_choices())
    return render_template(
        "metacrm/users.html", accounts=found, search=search, status=status,
        role_labels=role_labels, team_labels=teams, teams_of=teams_by_user(),
        full=len(found) >= accounts.LIST_LIMIT, me=_acting_id())


def read_form(form: MultiDict[str, str], *, new: bool) -> tuple[AccountForm, list[str]]:
    """The posted account and teams (a blank password on the edit form: unchanged)."""
    password = form.get("password") or ""
    return AccountForm(
        username=(form.get("username") or "").strip(),
        first_name=(form.get("first_name") or "").strip(),
        last_name=(form.get("last_name") or "").strip(),
        email=(form.get("email") or "").strip(),
        roles=tuple(dict.fromkeys(form.getlist("roles"))),
        password=password if password or new else None,
        active=new or form.get("active") == "yes",
    ), list(dict.fromkeys(form.getlist("teams")))


def _form_page(*, account: Account | None, values: Mapping[str, Any],
               errors: Mapping[str, str] | None = None, status: int = 200) -> tuple[str, int]:
    return render_template(
        "metacrm/user_form.html", account=account, values=values, errors=errors or {},
        roles=role_choices(_model()), teams=team_choices(), me=_acting_id()), status


def _values(form: AccountForm, teams: Sequence[str]) -> dict[str, Any]:
    return {"username": form.username, "first_name": form.first_name,
            "last_name": form.last_name, "email": form.email, "roles": list(form.roles),
            "teams": list(teams), "active": form.active}


@web_users.route("/new", methods=["GET", "POST"])
@admin_required
def new_user() -> Page:
    if request.method == "GET":
        return _form_page(account=None, values={"roles": [], "teams": [], "active": True})
    form, teams = read_form(request.form, new=True)
    try:
        _check_teams(teams)
        created = accounts.create_account(_appbuilder(), _model(), form)
    except MetacrmError as error:
        return _form_page(account=None, values=_values(form, teams),
                          errors=field_errors(error), status=_status(error))
    _set_teams(str(created.id), teams)
    flash(t("User “%(name)s” created.", name=created.username), "success")
    return redirect(url_for(LIST_PAGE))


@web_users.route("/<int:user_id>", methods=["GET", "POST"])
@admin_required
def edit_user(user_id: int) -> Page:
    account = accounts.get_account(_appbuilder(), user_id)
    if request.method == "GET":
        current = teams_by_user().get(str(user_id), [])
        values = {"username": account.username, "first_name": account.first_name,
                  "last_name": account.last_name, "email": account.email,
                  "roles": list(account.roles), "teams": current, "active": account.active}
        return _form_page(account=account, values=values)
    form, teams = read_form(request.form, new=False)
    try:
        _check_teams(teams)
        changed = accounts.update_account(_appbuilder(), _model(), user_id, form,
                                          acting_user_id=_acting_id())
    except MetacrmError as error:
        return _form_page(account=account, values=_values(form, teams),
                          errors=field_errors(error), status=_status(error))
    _set_teams(str(user_id), teams)
    flash(t("User “%(name)s” saved.", name=changed.username), "success")
    return redirect(url_for(LIST_PAGE))


@web_users.post("/<int:user_id>/deactivate")
@admin_required
def deactivate(user_id: int) -> BaseResponse:
    return _toggle(user_id, False)


@web_users.post("/<int:user_id>/activate")
@admin_required
def activate(user_id: int) -> BaseResponse:
    return _toggle(user_id, True)


def _toggle(user_id: int, active: bool) -> BaseResponse:
    try:
        account = accounts.set_active(_appbuilder(), _model(), user_id, active,
                                      acting_user_id=_acting_id())
    except AccountRefused as error:
        flash(refusal(error), "error")
    else:
        flash(t("User “%(name)s” deactivated; their sessions have ended.",
                name=account.username) if not active
              else t("User “%(name)s” activated.", name=account.username), "success")
    return redirect(url_for(LIST_PAGE))


@web_users.post("/<int:user_id>/delete")
@admin_required
def delete(user_id: int) -> BaseResponse:
    try:
        username = accounts.delete_account(_appbuilder(), _model(), user_id,
                                           acting_user_id=_acting_id())
    except AccountRefused as error:
        flash(refusal(error), "error")
        return redirect(url_for(LIST_PAGE))
    _set_teams(str(user_id), [])
    flash(t("User “%(name)s” deleted.", name=username), "success")
    return redirect(url_for(LIST_PAGE))


def _check_teams(teams: Sequence[str]) -> None:
    known = {name for name, _ in team_choices()}
    if any(team not in known for team in teams):
        raise ValidationFailed("unknown team", [ErrorDetail("unknown team", "/teams")])


def _set_teams(user_id: str, wanted: Sequence[str]) -> None:
    """Make the user a direct member of exactly the `wanted` teams."""
    directory = services().teams
    with services().engine.begin() as conn:
        current = set(directory.direct_teams_of(conn, user_id))
        for team in sorted(set(wanted) - current):
            directory.add_member(conn, team, user_id)
        for team in sorted(current - set(wanted)):
            directory.remove_member(conn, team, user_id)


def _status(error: MetacrmError) -> int:
    return 422 if isinstance(error, ValidationFailed) else error.status


def refusal(error: AccountRefused) -> str:
    """The refusal in the user's language."""
    return {
        accounts.SELF_DEACTIVATION: t("You cannot deactivate your own account."),
        accounts.SELF_DELETION: t("You cannot delete your own account."),
        accounts.LAST_ADMIN: t("This is the last active administrator: make another user "
                               "an administrator first."),
        accounts.USERNAME_TAKEN: t("A user with this login exists already."),
        accounts.EMAIL_TAKEN: t("A user with this email exists already."),
    }.get(error.reason, error.message)


def field_errors(error: MetacrmError) -> dict[str, str]:
    """What was wrong, by form field, in the user's language (`_form` when no field)."""
    if isinstance(error, AccountRefused):
        key = error.errors[0].pointer.strip("/") if error.errors else ""
        return {key or "_form": refusal(error)}
    messages = {
        "username": t("1 to 64 characters without spaces or slashes."),
        "email": t("Not an email address."),
        "password": t("At least 8 characters."),
        "first_name": t("Required."),
        "roles": t("Choose at least one role."),
        "teams": t("There is no such team."),
    }
    found: dict[str, str] = {}
    for detail in error.errors:
        key = detail.pointer.strip("/")
        if "longer than" in detail.message:
            found[key] = t("Too long.")
        elif "unknown role" in detail.message:
            found[key] = t("There is no such role.")
        else:
            found.setdefault(key, messages.get(key, detail.message))
    return found or {"_form": error.message}
