"""Import isolation: a pack's Python code may import `metacrm.extension` and nothing else of
metacrm. Checked on the source (ast) before the module is imported, so a pack that would
reach the engine through `metacrm.storage` is refused with the file and line, not after
its import has already run."""

from __future__ import annotations

import ast
import importlib.util
from collections.abc import Iterator
from pathlib import Path

ALLOWED = "metacrm.extension"
DYNAMIC_IMPORTS = frozenset({"import_module", "__import__"})


def _forbidden(name: str) -> bool:
    if name != "metacrm" and not name.startswith("metacrm."):
        return False
    return not (name == ALLOWED or name.startswith(ALLOWED + "."))


def source_files(module: str, root: Path | None) -> list[Path]:
    """The Python files of `module`: under `root` for a folder pack, else where the
    installed distribution put it. Empty when the module cannot be found."""
    top = module.split(".")[0]
    if root is not None:
        package, single = root / top, root / f"{top}.py"
        if package.is_dir():
            return sorted(package.rglob("*.py"))
        return [single] if single.is_file() else []
    spec = importlib.util.find_spec(top)
    if spec is None or spec.origin is None:
        return []
    if spec.submodule_search_locations:
        return sorted(p for location in spec.submodule_search_locations
                      for p in Path(location).rglob("*.py"))
    return [Path(spec.origin)] if spec.origin.endswith(".py") else []


def _imports(tree: ast.AST) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "metacrm":
                for alias in node.names:
                    yield node.lineno, f"metacrm.{alias.name}"
            else:
                yield node.lineno, node.module
        elif isinstance(node, ast.Call):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else (
                func.id if isinstance(func, ast.Name) else None)
            if called in DYNAMIC_IMPORTS and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    yield node.lineno, first.value


def import_problems(files: list[Path], base: Path | None = None) -> list[str]:
    """`file:line: ...` for every import of metacrm other than `metacrm.extension`, and for
    files that do not parse."""
    problems: list[str] = []
    for path in files:
        shown = path.relative_to(base) if base is not None and path.is_relative_to(base) \
            else path
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        except (SyntaxError, UnicodeDecodeError) as exc:
            line = getattr(exc, "lineno", None) or 0
            problems.append(f"{shown}:{line}: does not parse: {exc}")
            continue
        problems.extend(
            f"{shown}:{line}: imports {name!r}; a pack may import only {ALLOWED!r} of metacrm"
            for line, name in sorted(_imports(tree)) if _forbidden(name))
    return problems
