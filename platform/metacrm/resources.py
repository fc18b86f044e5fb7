"""Where the folders the package reads at run time are: `schemas/`, `ui/`, `metadata/`,
`seed/` and `extensions/`.

They stay at the repository's top level (ARCHITECTURE.md wants them beside `platform/`,
where designers and translators find them). Running from a checkout (an editable install,
the tests), they are read there; an installed wheel carries a copy of each under
`metacrm/_bundled/` (copied by `setup.py` when the wheel is built). Every lookup of these
folders goes through `folder()`, so the same code works both ways.
"""

from __future__ import annotations

from pathlib import Path

FOLDERS = ("schemas", "ui", "metadata", "seed", "extensions")
"""The top-level folders that travel with the package (setup.py bundles exactly these)."""

BUNDLE = "_bundled"

PACKAGE_DIR = Path(__file__).resolve().parent
CHECKOUT = PACKAGE_DIR.parents[1]
"""The repository root when the package is imported from `platform/metacrm/`."""


def from_checkout() -> bool:
    """Whether the package is imported from a checkout (its folders beside `platform/`)."""
    return (PACKAGE_DIR.parent.name == "platform"
            and (CHECKOUT / "pyproject.toml").is_file()
            and (CHECKOUT / "schemas").is_dir())


RESOURCE_ROOT = CHECKOUT if from_checkout() else PACKAGE_DIR / BUNDLE
"""The checkout's root, or the bundled copy of an installed package."""


def folder(name: str) -> Path:
    """The folder `name` (one of FOLDERS) of the checkout or of the installed package."""
    if name not in FOLDERS:
        raise ValueError(f"{name!r} is not a packaged folder; known: {', '.join(FOLDERS)}")
    return RESOURCE_ROOT / name
