"""`metacrm user create` and the first admin that `metacrm init` creates.

User commands build the web app (`create_app`) because users, roles and password hashing
belong to Flask-AppBuilder; nothing is served. The web stack is imported by the commands
that need it, so `metacrm metadata ...` does not pay for loading Flask-AppBuilder.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

from metacrm.cli.errors import reports_errors
from metacrm.cli.fab_logging import quiet_fab
from metacrm.kernel.errors import ErrorDetail, ValidationFailed
from metacrm.settings import Settings

if TYPE_CHECKING:
    from metacrm.identity.users import NewUser

@click.group()
def user() -> None:
    """Manage users (Flask-AppBuilder accounts with a metadata role)."""


@user.command("create")
@click.argument("name")
@click.option("--role", required=True, help="A role declared in the metadata.")
@click.option("--team", "teams", multiple=True, help="A team to join (repeatable).")
@click.option("--email", default=None, help="Email address (default: NAME@users.metacrm.invalid).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@reports_errors
def create(
    name: str, role: str, teams: Sequence[str], email: str | None, password_stdin: bool
) -> None:
    """Create user NAME with role ROLE; the password is prompted for unless piped in."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    created = add_user(
        Settings.from_env(), username=name, role=role, password=password, email=email,
        teams=teams,
    )
    joined = f" in team{'s' if len(teams) > 1 else ''} {', '.join(teams)}" if teams else ""
    click.echo(f"Created user '{created.username}' (id {created.id}) with role '{role}'{joined}.")


def add_user(
    settings: Settings,
    *,
    username: str,
    role: str,
    password: str,
    email: str | None = None,
    teams: Sequence[str] = (),
) -> NewUser:
    """Create one user through the web app's identity setup and put them in `teams`
    (existing teams only: a typo must not create a team)."""
    quiet_fab()
    from metacrm.access.teams import TeamDirectory
    from metacrm.app import create_app, dispose_app
    from metacrm.identity.bridge import identity_state
    from metacrm.identity.users import create_user

    app = create_app(settings)
    try:
        with app.app_context():
            state = identity_state()
            directory = TeamDirectory(state.engine)
            with state.engine.connect() as connection:
                known = [team.name for team in directory.list_teams(connection)]
            _check_teams(teams, known)
            created = create_user(
                state.appbuilder,
                state.metadata.live().model,
                username=username,
                role=role,
                password=password,
                email=email,
            )
            with state.engine.begin() as connection:
                for team in teams:
                    directory.add_member(connection, team, str(created.id))
            return created
    finally:
        dispose_app(app)


def _check_teams(wanted: Sequence[str], known: Sequence[str]) -> None:
    unknown = [team for team in wanted if team not in known]
    if unknown:
        listing = ", ".join(known) or "none yet"
        raise ValidationFailed(
            f"unknown team {', '.join(repr(t) for t in unknown)}; existing teams: {listing}",
            [ErrorDetail(f"there is no team {team!r}", "/teams") for team in unknown],
        )


def ensure_first_admin(settings: Settings) -> str | None:
    """Create METACRM_ADMIN_USER with the metadata's admin role unless the user exists;
    a line saying what happened, or None when METACRM_ADMIN_USER is not set."""
    if not settings.admin_user:
        return None
    quiet_fab()
    from metacrm.app import create_app, dispose_app
    from metacrm.identity.bridge import identity_state
    from metacrm.identity.users import create_user, first_admin_role

    if not settings.admin_password:
        raise ValidationFailed(
            "METACRM_ADMIN_USER is set but METACRM_ADMIN_PASSWORD is not",
            [ErrorDetail("missing", "METACRM_ADMIN_PASSWORD")],
        )
    app = create_app(settings)
    try:
        with app.app_context():
            state = identity_state()
            if state.appbuilder.sm.find_user(username=settings.admin_user) is not None:
                return f"Admin user '{settings.admin_user}' already exists; left unchanged."
            model = state.metadata.live().model
            created = create_user(
                state.appbuilder,
                model,
                username=settings.admin_user,
                role=first_admin_role(model),
                password=settings.admin_password,
            )
    finally:
        dispose_app(app)
    return f"Created admin user '{created.username}' with role '{created.role}'."
