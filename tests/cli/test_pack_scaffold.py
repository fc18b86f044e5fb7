"""`metacrm pack new NAME` makes a pack that passes its own test and that the host loads."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from metacrm.cli.pack_scaffold import pack_new
from metacrm.extension_host.isolation import import_problems, source_files


def test_scaffolded_pack_passes_its_own_test(tmp_path: Path) -> None:
    result = CliRunner().invoke(pack_new, ["loyalty", "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    folder = tmp_path / "loyalty"
    manifest = json.loads((folder / "metacrm_loyalty" / "pack.json").read_text())
    assert manifest["name"] == "loyalty" and manifest["module"] == "metacrm_loyalty"
    assert 'loyalty = "metacrm_loyalty"' in (folder / "pyproject.toml").read_text()
    assert import_problems(source_files("metacrm_loyalty", folder), folder) == []
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                         cwd=folder, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 passed" in run.stdout


def test_bad_or_taken_names_are_refused(tmp_path: Path) -> None:
    runner = CliRunner()
    bad = runner.invoke(pack_new, ["Loyalty!", "--dir", str(tmp_path)])
    assert bad.exit_code == 1
    assert "must match" in bad.output
    assert runner.invoke(pack_new, ["loyalty", "--dir", str(tmp_path)]).exit_code == 0
    again = runner.invoke(pack_new, ["loyalty", "--dir", str(tmp_path)])
    assert again.exit_code == 1
    assert "already exists" in again.output
