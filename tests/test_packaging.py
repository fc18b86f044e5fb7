"""The package works installed, not only from a checkout: the wheel carries `schemas/`,
`ui/`, `metadata/`, `seed/` and `extensions/` (metacrm.resources), so `metacrm demo` runs
from a fresh virtual environment outside the repository and the screens find their
templates, translations and assets there.

One test, a minute or two (a wheel build and an install of the dependencies from pip's
cache); it runs in the normal suite.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

SCREENS_PROBE = """
import dataclasses
import sys
from metacrm.app import create_app, dispose_app
from metacrm.resources import from_checkout, folder
from metacrm.settings import Settings

assert not from_checkout(), folder("ui")
assert "site-packages" in str(folder("ui")), folder("ui")
settings = dataclasses.replace(Settings.from_env(), database_url=sys.argv[1])
app = create_app(settings)
try:
    client = app.test_client()
    login = client.get("/app/login", headers={"Accept-Language": "ru"})
    assert login.status_code == 200, login.status_code
    assert "Войти".encode() in login.data, "the Russian catalogue was not found"
    style = client.get("/app/static/list.css")
    assert style.status_code == 200 and style.data, style.status_code
    style.close()
finally:
    dispose_app(app)
print("screens ok")
"""


def run(command: list[str], *, cwd: Path, env: dict[str, str] | None = None,
        timeout: float = 600) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=timeout, check=False)
    assert result.returncode == 0, f"{command}:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.mark.packaging
def test_the_installed_wheel_runs_the_demo_outside_the_repository(tmp_path: Path) -> None:
    assert not tmp_path.is_relative_to(ROOT)
    # Nothing of this process's setup reaches the fresh venv (a PYTHONPATH naming the
    # checkout would make pip think metacrm is installed already).
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("METACRM_") and key not in ("PYTHONPATH", "VIRTUAL_ENV")}
    wheels = tmp_path / "wheels"
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels),
         str(ROOT)], cwd=tmp_path)
    (wheel,) = wheels.glob("metacrm-*.whl")
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path, env=env)
    run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(wheel)],
        cwd=tmp_path, env=env, timeout=900)

    instance = tmp_path / "instance"
    env["METACRM_INSTANCE_PATH"] = str(instance)
    demo = run([str(venv / "bin" / "metacrm"), "demo", "--no-serve"], cwd=tmp_path, env=env)
    assert "Demo data loaded in" in demo.stdout
    assert "deal 23" in demo.stdout
    assert "metacrm demo: open http://127.0.0.1:5000/app/" in demo.stdout
    assert (instance / "demo.db").is_file()

    screens = run([str(venv / "bin" / "python"), "-c", SCREENS_PROBE,
                   f"sqlite:///{instance / 'demo.db'}"], cwd=tmp_path, env=env)
    assert screens.stdout.strip().endswith("screens ok")
