"""How every `metacrm` command reports a user-caused error: lines on stderr, exit code 1."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click

from metacrm.kernel.errors import DestructiveChangeRefused, MetacrmError

F = TypeVar("F", bound=Callable[..., Any])


def reports_errors(command: F) -> F:
    """Print a MetacrmError as `error:` + one `file pointer: reason` line per detail on
    stderr and exit 1; nothing else (no traceback) reaches the user."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except MetacrmError as exc:
            click.echo(f"error: {exc.message}", err=True)
            for detail in exc.errors:
                click.echo(f"  {detail}", err=True)
            if isinstance(exc, DestructiveChangeRefused):
                click.echo(
                    "Nothing was applied. Re-run with --confirm-destructive to apply;\n"
                    "the data of dropped or changed fields is archived, not deleted.",
                    err=True,
                )
            sys.exit(1)

    return wrapper  # type: ignore[return-value]
