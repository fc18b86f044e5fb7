"""Runs a pack's Python data-migration step, `migrations/<version>/step.py` with `run(ctx)`.

The file is held to the same import rule as a pack's module (only `metacrm.extension` of
metacrm, checked on the source before anything runs), imported under a private name that
is forgotten afterwards, and its `run(ctx)` called inside the upgrade's transaction. Any
exception becomes a `ValidationFailed` naming the file, and rolls the upgrade back.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path

from metacrm.extension import MigrationContext
from metacrm.extension_host.isolation import import_problems
from metacrm.kernel.errors import ErrorDetail, MetacrmError, ValidationFailed


def run_migration_step(path: Path, ctx: MigrationContext) -> None:
    """Import `path` and call its `run(ctx)`; refuse a file that imports the core."""
    where = f"data migration step of pack {ctx.pack} {ctx.to_version}"
    problems = import_problems([path], path.parent)
    if problems:
        raise ValidationFailed(f"{where} is refused",
                               [ErrorDetail(problem, "", str(path)) for problem in problems])
    name = f"_metacrm_step_{ctx.pack}_{ctx.to_version}".replace(".", "_").replace("-", "_")
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ValidationFailed(f"{where} cannot be loaded", [ErrorDetail("not a Python file",
                                                                         "", str(path))])
    loader = spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        _guarded(where, path, lambda: loader.exec_module(module))
        run = getattr(module, "run", None)
        if not callable(run):
            raise ValidationFailed(f"{where} has no run(ctx)",
                                   [ErrorDetail("define run(ctx)", "", str(path))])
        _guarded(where, path, lambda: run(ctx))
    finally:
        sys.modules.pop(name, None)


def _guarded(where: str, path: Path, call: Callable[[], object]) -> None:
    """Run the pack's code; whatever it raises becomes a ValidationFailed naming `path`."""
    try:
        call()
    except MetacrmError as exc:
        details = [ErrorDetail(d.message, d.pointer, str(path)) for d in exc.errors] \
            or [ErrorDetail(exc.message, "", str(path))]
        raise ValidationFailed(f"{where} failed: {exc.message}", details) from exc
    except Exception as exc:
        raise ValidationFailed(f"{where} failed: {type(exc).__name__}: {exc}",
                               [ErrorDetail(str(exc) or type(exc).__name__, "",
                                            str(path))]) from exc
