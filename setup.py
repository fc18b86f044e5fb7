"""Bundle the top-level folders the package reads at run time into the wheel.

`schemas/`, `ui/`, `metadata/`, `seed/` and `extensions/` live at the repository's top level
(ARCHITECTURE.md); an installed package finds its copy of them under `metacrm/_bundled/`
(`metacrm.resources`). Everything else is configured in pyproject.toml.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
FOLDERS = ("schemas", "ui", "metadata", "seed", "extensions")  # = metacrm.resources.FOLDERS
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")


class BuildWithResources(build_py):
    """`build_py` that also copies the resource folders into `metacrm/_bundled/`."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads the checkout's folders directly
        target = Path(self.build_lib) / "metacrm" / "_bundled"
        shutil.rmtree(target, ignore_errors=True)  # no stale file from an earlier build
        for name in FOLDERS:
            source = ROOT / name
            if source.is_dir():
                shutil.copytree(source, target / name, ignore=IGNORED, dirs_exist_ok=True)


setup(cmdclass={"build_py": BuildWithResources})
