"""`metacrm pack new NAME`: a pack folder that installs, loads and passes its own test.

The folder is both a pip distribution (its `pyproject.toml` declares the `metacrm.packs`
entry point naming the module, whose folder holds `pack.json` and `metadata/`) and a
project with a test run by pytest against `metacrm.extension.testing`'s fakes. The command
`pack_new` is attached to the `metacrm pack` group.
"""

from __future__ import annotations

import re
from pathlib import Path

import click

PACK_NAME = re.compile(r"^[a-z][a-z0-9_]{1,30}$")

PYPROJECT = '''\
[build-system]
requires = ["setuptools>=69", "wheel"]
build-backend = "setuptools.build_meta"

[project]
name = "metacrm-@dash@"
version = "0.1.0"
description = "metacrm pack @name@"
requires-python = ">=3.11"
dependencies = ["metacrm>=0.1,<0.2"]

# metacrm finds installed packs through this entry point; the module's folder holds
# pack.json and metadata/.
[project.entry-points."metacrm.packs"]
@name@ = "@module@"

[tool.setuptools.packages.find]
include = ["@module@*"]

[tool.setuptools.package-data]
@module@ = ["pack.json", "metadata/*.json"]

[tool.pytest.ini_options]
testpaths = ["tests"]
'''

MANIFEST = '''\
{
  "name": "@name@",
  "version": "0.1.0",
  "engine": ">=0.1,<0.2",
  "depends": {},
  "label": {"en": "@title@", "ru": "@title@"},
  "description": {"en": "What @name@ does.", "ru": "Что делает @name@."},
  "settings": {
    "type": "object",
    "properties": {
      "greeting": {"type": "string", "description": "What /ping answers"}
    },
    "required": []
  },
  "permissions": {},
  "module": "@module@"
}
'''

MODULE = '''\
"""metacrm pack `@name@`. Import only `metacrm.extension` from metacrm: the pack host
refuses any other metacrm import (file:line) before loading the pack."""

from __future__ import annotations

from metacrm.extension import ExtensionContext, ExtRequest


def install(ctx: ExtensionContext) -> None:
    """Register everything here: registration closes when this returns."""
    greeting = ctx.settings.get("greeting") or "hello"

    def ping(request: ExtRequest) -> dict[str, str]:
        return {"pack": ctx.pack.name, "version": ctx.pack.version, "greeting": greeting}

    # GET /api/v1/ext/@name@/ping (signed-in users)
    ctx.route("ping", ["GET"], ping)
'''

CONFTEST = '''\
"""Make the pack's module importable from its folder."""

from __future__ import annotations

import sys
from pathlib import Path

PACK_ROOT = str(Path(__file__).resolve().parents[1])
if PACK_ROOT not in sys.path:
    sys.path.insert(0, PACK_ROOT)
'''

TEST = '''\
"""The pack's registrations, against metacrm.extension's fakes."""

from __future__ import annotations

import @module@
from metacrm.extension import Caller
from metacrm.extension.testing import FakeContext


def test_ping_answers_the_configured_greeting() -> None:
    context = FakeContext("@name@", ["greeting"], {"greeting": "hi"}, version="0.1.0")
    @module@.install(context)
    answer = context.request("GET", "ping", caller=Caller("1", "ann"))
    assert answer == {"pack": "@name@", "version": "0.1.0", "greeting": "hi"}
'''

README = '''\
# @title@ (metacrm pack `@name@`)

* `@module@/pack.json` — the manifest (settings, permissions, dependencies);
* `@module@/metadata/` — metadata documents the pack ships;
* `@module@/__init__.py` — `install(ctx)`, written against `metacrm.extension` only;
* `tests/` — run with `pytest` in this folder.

Install into an instance: `metacrm pack install <this folder>` (or `pip install .`, then
`metacrm pack install @name@`).
'''


def scaffold(name: str, parent: Path) -> Path:
    """Write the pack folder `parent/name`; ValueError for a bad name or an existing one."""
    if not PACK_NAME.match(name):
        raise ValueError(f"pack name {name!r} must match {PACK_NAME.pattern} "
                         "(lower-case letters, digits, underscores)")
    folder = parent / name
    if folder.exists():
        raise ValueError(f"{folder} already exists")
    module = f"metacrm_{name}"
    values = {"@name@": name, "@module@": module, "@dash@": name.replace("_", "-"),
              "@title@": name.replace("_", " ").title()}
    files = {
        "pyproject.toml": PYPROJECT,
        "README.md": README,
        f"{module}/pack.json": MANIFEST,
        f"{module}/__init__.py": MODULE,
        f"{module}/metadata/.gitkeep": "",
        "tests/conftest.py": CONFTEST,
        f"tests/test_{name}_pack.py": TEST,
    }
    for relative, template in files.items():
        text = template
        for key, value in values.items():
            text = text.replace(key, value)
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return folder


@click.command("new")
@click.argument("name")
@click.option("--dir", "parent", type=click.Path(file_okay=False, path_type=Path),
              default=Path("."), show_default=True, help="Where to create the pack folder.")
def pack_new(name: str, parent: Path) -> None:
    """Create a new pack folder NAME: manifest, module with install(ctx), a test."""
    try:
        folder = scaffold(name, parent)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Created pack {name!r} in {folder}. Run its test: cd {folder} && pytest")
