"""Dependencies point inward: the layer rules of docs/architecture.md, as import-linter
contracts (pyproject.toml, `[tool.importlinter]`), checked transitively on every package.

Running them here puts them in the README's test command; `.ci/run` also runs
`lint-imports` on its own, after mypy.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "platform" / "metacrm"


def contracts() -> list[dict[str, object]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    found: list[dict[str, object]] = config["tool"]["importlinter"]["contracts"]
    return found


def test_the_import_contracts_hold() -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint_imports), "--no-cache"], cwd=ROOT,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(contracts())} kept, 0 broken" in result.stdout


def test_every_package_and_module_of_metacrm_has_a_layer() -> None:
    """A new package must be placed in the layers contract, or its imports go unchecked."""
    (layers,) = [c for c in contracts() if c["type"] == "layers"]
    listed = {
        name.strip()
        for line in layers["layers"]  # type: ignore[attr-defined]
        for name in line.replace("|", ":").split(":")
    }
    covered = {name.split(".")[1] for name in listed}
    children = {path.name for path in PACKAGE.iterdir()
                if path.is_dir() and (path / "__init__.py").exists()}
    children |= {path.stem for path in PACKAGE.glob("*.py") if path.stem != "__init__"}
    assert children - covered == set()
    criteria = {path.stem for path in (PACKAGE / "criteria").glob("*.py")} - {"__init__"}
    assert {f"metacrm.criteria.{name}" for name in criteria} <= listed


def test_platform_is_a_source_root_not_a_package() -> None:
    assert not (PACKAGE.parent / "__init__.py").exists()
