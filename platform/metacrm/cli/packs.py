"""`metacrm pack ...`: list, preview, install, upgrade, uninstall and configure packs.

Every change is previewed by `metacrm pack plan install|upgrade|uninstall NAME` exactly as
it will be applied, and applied all or nothing (metadata, tables, data migrations, settings
in one transaction). Errors are `file pointer: reason` lines and exit code 1.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from metacrm.cli.bootstrap import lifecycle_of, open_runtime
from metacrm.cli.errors import reports_errors
from metacrm.cli.metadata_commands import TAKE_OPTION
from metacrm.cli.pack_scaffold import pack_new
from metacrm.kernel.errors import ErrorDetail, ValidationFailed
from metacrm.metadata.layers import Side
from metacrm.packs.discovery import read_pack_folder
from metacrm.packs.lifecycle import PackLifecycle
from metacrm.packs.manifest import PackManifest
from metacrm.packs.pack_settings import parse_assignment


@contextmanager
def open_lifecycle() -> Iterator[PackLifecycle]:
    with open_runtime() as runtime:
        runtime.metadata.initialize()
        yield lifecycle_of(runtime)


def _target(value: str) -> str | Path:
    """A pack name, or a folder when it looks like a path."""
    path = Path(value)
    return path if ("/" in value or value.startswith(".") or path.is_dir()) else value


def _assignments(items: Sequence[str]) -> dict[str, Any]:
    return dict(parse_assignment(item) for item in items)


def _refuse_plain_secrets(manifest: PackManifest | None, values: Mapping[str, Any]) -> None:
    """A secret given as `--set KEY=VALUE` would stay in the shell's history: refused."""
    if manifest is None:
        return
    secret = sorted(manifest.secret_keys & set(values))
    if secret:
        raise ValidationFailed(
            f"{', '.join(secret)} {'is a secret' if len(secret) == 1 else 'are secrets'}: "
            "give secrets on standard input with --set-secret KEY",
            [ErrorDetail("not accepted on the command line", f"/{key}", manifest.name)
             for key in secret])


def _secrets(keys: Sequence[str]) -> dict[str, Any]:
    """One line of standard input per `--set-secret KEY`, in order (never echoed)."""
    values: dict[str, Any] = {}
    for key in keys:
        line = sys.stdin.readline()
        if not line:
            raise ValidationFailed(f"no value for secret {key!r} on standard input",
                                   [ErrorDetail("pipe one line per --set-secret", f"/{key}")])
        values[key] = line.rstrip("\r\n")
    return values


@click.group()
def pack() -> None:
    """List, preview, install, upgrade, uninstall, configure and scaffold packs."""


pack.add_command(pack_new)


@pack.command("list")
@reports_errors
def list_packs() -> None:
    """Installed and available packs with their versions."""
    with open_lifecycle() as lifecycle:
        installed = lifecycle.installed()
        available = lifecycle.available()
    rows = [("pack", "installed", "available", "state", "from")]
    for name in sorted(installed.keys() | available.keys()):
        row = installed.get(name)
        offer = available.get(name)
        have = str(row.manifest.version) if row else "-"
        can = str(offer.manifest.version) if offer else "-"
        if row is None:
            state = "available"
        elif offer is None:
            state = "installed (source gone)"
        elif offer.manifest.version > row.manifest.version:
            state = "upgrade available"
        else:
            state = "installed"
        where = offer.origin if offer else row.source if row else ""
        rows.append((name, have, can, state, where))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    for line in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(line, widths,
                                                                       strict=True)).rstrip())


@pack.command("plan")
@click.argument("action", type=click.Choice(["install", "upgrade", "uninstall"]))
@click.argument("target")
@TAKE_OPTION
@reports_errors
def plan(action: str, target: str, take: Side | None) -> None:
    """Show what `pack ACTION TARGET` would do, changing nothing."""
    with open_lifecycle() as lifecycle:
        if action == "install":
            preview = lifecycle.plan_install(_target(target), take=take)
        elif action == "upgrade":
            preview = lifecycle.plan_upgrade(target, take=take)
        else:
            preview = lifecycle.plan_uninstall(target, take=take)
    click.echo(preview.describe())


@pack.command("install")
@click.argument("target")
@click.option("--set", "assignments", multiple=True, metavar="KEY=VALUE",
              help="A setting (repeatable); VALUE is JSON when it parses as JSON.")
@click.option("--confirm-destructive", is_flag=True,
              help="Allow the change to archive fields or tables.")
@TAKE_OPTION
@reports_errors
def install(target: str, assignments: Sequence[str], confirm_destructive: bool,
            take: Side | None) -> None:
    """Install pack TARGET (a name of an available pack or a folder) and the available
    packs it depends on."""
    with open_lifecycle() as lifecycle:
        chosen = _target(target)
        values = _assignments(assignments)
        if isinstance(chosen, Path):
            manifest: PackManifest | None = read_pack_folder(chosen, "path").manifest
        else:
            offer = lifecycle.available().get(chosen)
            manifest = offer.manifest if offer is not None else None
        _refuse_plain_secrets(manifest, values)
        result = lifecycle.install(chosen, settings=values, take=take,
                                   confirm_destructive=confirm_destructive)
    click.echo(result.plan.describe())
    click.echo(result.describe())


@pack.command("upgrade")
@click.argument("name")
@click.option("--confirm-destructive", is_flag=True,
              help="Allow the new version to archive fields or tables.")
@TAKE_OPTION
@reports_errors
def upgrade(name: str, confirm_destructive: bool, take: Side | None) -> None:
    """Upgrade installed pack NAME to the version available; its data stays in place."""
    with open_lifecycle() as lifecycle:
        result = lifecycle.upgrade(name, take=take, confirm_destructive=confirm_destructive)
    click.echo(result.plan.describe())
    click.echo(result.describe())


@pack.command("uninstall")
@click.argument("name")
@click.option("--keep-data", is_flag=True, default=True,
              help="Archive the pack's tables and columns (always: data is never dropped).")
@TAKE_OPTION
@reports_errors
def uninstall(name: str, keep_data: bool, take: Side | None) -> None:
    """Uninstall pack NAME: its metadata, role, settings go; its tables and columns are
    archived (renamed, data kept; its fields come back with their data on re-install)."""
    with open_lifecycle() as lifecycle:
        result = lifecycle.uninstall(name, take=take)
    click.echo(result.plan.describe())
    click.echo(result.describe())


@pack.command("settings")
@click.argument("name")
@click.option("--set", "assignments", multiple=True, metavar="KEY=VALUE",
              help="Change a setting (repeatable); VALUE is JSON when it parses as JSON.")
@click.option("--set-secret", "secret_keys", multiple=True, metavar="KEY",
              help="Change a secret setting, read as one line of standard input.")
@reports_errors
def settings(name: str, assignments: Sequence[str], secret_keys: Sequence[str]) -> None:
    """Show pack NAME's settings (secrets only as set / not set), or change some."""
    with open_lifecycle() as lifecycle:
        plain = _assignments(assignments)
        row = lifecycle.installed().get(name)
        _refuse_plain_secrets(row.manifest if row is not None else None, plain)
        values = {**plain, **_secrets(secret_keys)}
        if values:
            shown = lifecycle.configure(name, values)
            missing = lifecycle.settings_of(name)[1]
        else:
            shown, missing = lifecycle.settings_of(name)
    if not shown and not missing:
        click.echo(f"Pack {name} has no settings set.")
    for key, value in shown.items():
        click.echo(f"{key} = {value if isinstance(value, str) else json.dumps(value)}")
    for key in missing:
        click.echo(f"{key}: required, not set")
