"""`metacrm team create|list`: the team hierarchy behind the `team` access scope.

Users join teams with `metacrm user create --team`; the `team` scope of a role covers the
records owned by members of the user's teams and of their sub-teams.
"""

from __future__ import annotations

import click

from metacrm.access.teams import TeamDirectory
from metacrm.cli.bootstrap import open_runtime
from metacrm.cli.errors import reports_errors


@click.group()
def team() -> None:
    """Create and list teams."""


@team.command("create")
@click.argument("name")
@click.option("--parent", default=None, help="The team this one belongs to.")
@click.option("--label", default=None, help="Display name (default: NAME).")
@reports_errors
def create(name: str, parent: str | None, label: str | None) -> None:
    """Create team NAME, optionally under --parent."""
    with open_runtime() as runtime:
        runtime.metadata.initialize()
        directory = TeamDirectory(runtime.engine)
        with runtime.engine.begin() as connection:
            created = directory.create_team(connection, name, parent=parent, label=label)
    where = f" under '{created.parent}'" if created.parent else ""
    click.echo(f"Created team '{created.name}'{where}.")


@team.command("list")
@reports_errors
def list_teams() -> None:
    """List teams with their parents."""
    with open_runtime() as runtime:
        runtime.metadata.initialize()
        with runtime.engine.connect() as connection:
            teams = TeamDirectory(runtime.engine).list_teams(connection)
    if not teams:
        click.echo("No teams yet: create one with `metacrm team create NAME`.")
    for item in teams:
        click.echo(f"{item.name}\t{item.parent or '-'}\t{item.label or item.name}")
