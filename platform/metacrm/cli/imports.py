"""`metacrm import ENTITY FILE`: import a CSV or XLSX file as a user, with a progress line.

The import runs in this process (the CLI is its own background worker): an interrupted
command run again with the same file and options resumes from the last committed batch
(imports are idempotent per file). `--dry-run` validates every row and writes nothing.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from metacrm.cli.bootstrap import open_runtime
from metacrm.cli.errors import reports_errors
from metacrm.kernel.errors import ErrorDetail, ValidationFailed


def _mapping(value: str | None) -> Any:
    """A mapping file (JSON) when the value names an existing file, else a saved name."""
    if value is None:
        return None
    path = Path(value)
    if path.suffix.lower() == ".json" or path.is_file():
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValidationFailed("the mapping file cannot be read",
                                   [ErrorDetail(str(exc), str(path))]) from exc
    return value


@click.command("import")
@click.argument("entity")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--mapping", default=None,
              help="A saved mapping's name or a mapping JSON file (default: suggested).")
@click.option("--mode", type=click.Choice(["create", "update", "upsert"]), default="create",
              show_default=True)
@click.option("--key", default="", help="Key field(s) for update/upsert, comma-separated.")
@click.option("--dry-run", is_flag=True, help="Validate every row; write nothing.")
@click.option("--silent", is_flag=True, help="No triggers, webhooks or record events.")
@click.option("--save-mapping", default=None, help="Save the mapping under this name.")
@click.option("--user", "username", default=None,
              help="Import as this user (default: METACRM_ADMIN_USER).")
@click.option("--errors", "errors_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Write the failing rows here (CSV with a reason column).")
@reports_errors
def import_file(entity: str, file: Path, mapping: str | None, mode: str, key: str,
                dry_run: bool, silent: bool, save_mapping: str | None, username: str | None,
                errors_path: Path | None) -> None:
    """Import FILE (CSV or XLSX) into ENTITY records."""
    from metacrm.imports.service import ImportRequest
    from metacrm.imports.status import import_json

    with open_runtime() as runtime:
        services = runtime.services
        name = username or runtime.settings.admin_user
        if not name:
            raise ValidationFailed("who imports?", [ErrorDetail(
                "give --user NAME (or set METACRM_ADMIN_USER)", "--user")])
        with runtime.engine.connect() as conn:
            user_id = services.subjects.users.find_id(conn, name)
        subject = None if user_id is None else services.subjects.subject_of(str(user_id))
        if subject is None:
            raise ValidationFailed("unknown user", [ErrorDetail(
                f"no active user {name!r}", "--user")])
        service = services.imports
        request = ImportRequest(
            entity=entity, file_name=file.name, content=file.read_bytes(),
            mapping=_mapping(mapping), mode=mode,
            key=tuple(part.strip() for part in key.split(",") if part.strip()),
            dry_run=dry_run, silent=silent, save_mapping=save_mapping)
        stored = service.start(subject, request, run_now=False)
        interactive = sys.stderr.isatty()

        def progress(done: int, total: int | None, counts: Mapping[str, int]) -> None:
            line = (f"\r{done}/{total or '?'} rows: {counts.get('created', 0)} created, "
                    f"{counts.get('updated', 0)} updated, "
                    f"{counts.get('failed', 0)} failed")
            click.echo(line if interactive else line.lstrip("\r"), err=True,
                       nl=not interactive)

        stored = service.run(stored.id, progress)
        if interactive:
            click.echo("", err=True)
        result = import_json(stored)
        if errors_path is not None and result["error_file"]:
            errors_path.write_text(service.error_file(subject, stored.id), encoding="utf-8")
    counts = result["counts"]
    verb = "Dry run" if dry_run else "Import"
    click.echo(f"{verb} {result['id']} {result['status']}: {counts['created']} created, "
               f"{counts['updated']} updated, {counts['unchanged']} unchanged, "
               f"{counts['failed']} failed.")
    for error in result["errors"][:20]:
        click.echo(f"  row {error['row']}: {error['reason']}")
    if result["error"]:
        raise ValidationFailed("the import failed", [ErrorDetail(result["error"], str(file))])
