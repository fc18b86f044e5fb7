"""Browser tests' pieces: a real `metacrm serve` process and Debian's Chromium driven by
Playwright.

The screens are tested as a user meets them: `metacrm init` + `metacrm serve` (or
`metacrm demo`) in a subprocess on a free loopback port (the README's commands, nothing
faked), users made with
`metacrm user create`, and a headless Chromium that clicks, types and drags. The server and
the browser are started once per test module (they take seconds); every test gets its own
browser context, so cookies and language choices never leak from one test to the next.

Test modules declare their fixtures from these helpers (no conftest.py):

    @pytest.fixture(scope="module")
    def server(tmp_path_factory): with shipped_server(tmp_path_factory) as s: yield s
    @pytest.fixture(scope="module")
    def chromium(): with launch_chromium() as b: yield b
    @pytest.fixture
    def page(chromium, server, request, tmp_path): with open_page(...) as p: yield p

A missing Chromium or Playwright skips with the reason, except under
`METACRM_REQUIRE_SERVICES=1` (CI), where it fails. When a test fails, its page is saved as
`failure.png` (and `failure.html`) in the test's tmp_path.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

try:  # a missing package is reported by require_browser(), not as a collection error
    from playwright.sync_api import (
        Browser,
        BrowserContext,
        Locator,
        Page,
        expect,
        sync_playwright,
    )

    _PLAYWRIGHT_ERROR: str | None = None
except ImportError as exc:  # pragma: no cover - depends on the environment
    _PLAYWRIGHT_ERROR = f"the playwright package is not installed ({exc})"
    Browser = BrowserContext = Locator = Page = Any  # type: ignore[misc,assignment]
    expect = sync_playwright = None  # type: ignore[assignment]

__all__ = [
    "ADMIN", "DEMO_PASSWORD", "DESKTOP", "PASSWORD", "PHONE", "REPOSITORY", "SHIPPED_PACKS",
    "Browser", "BrowserContext", "Locator", "Page", "Server", "expect", "launch_chromium",
    "new_context", "open_page", "require_browser", "save_page", "shipped_server", "sign_in",
    "start_server",
]

REPOSITORY = Path(__file__).resolve().parents[2]
PLATFORM = REPOSITORY / "platform"
SHIPPED_PACKS = REPOSITORY / "metadata"
METACRM = (sys.executable, "-c", "from metacrm.cli.main import main; main()")
"""The `metacrm` command, run with this interpreter (as tests/process_harness.py does)."""
CHROMIUM = Path("/usr/bin/chromium")
"""Debian's Chromium (`apt-get install -y chromium`); Playwright's own download is not used."""

ADMIN = "admin"
PASSWORD = "browser-test-password"
"""Every test user's password (a throwaway instance)."""
DEMO_PASSWORD = "demo-password"
"""The demo users' password (seed/demo.json)."""
TIMEOUT_MS = 10_000
"""What a locator waits for an element, and `expect` for a condition, at most."""
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
SERVER_START_SECONDS = 90.0


def _unavailable(reason: str) -> None:
    """Skip, or fail where CI forbids skipping a test for a missing service."""
    if os.environ.get("METACRM_REQUIRE_SERVICES") == "1":
        pytest.fail(f"required service unavailable: {reason}")
    pytest.skip(reason)


def require_browser() -> None:
    if _PLAYWRIGHT_ERROR is not None:
        _unavailable(_PLAYWRIGHT_ERROR)
    if not os.access(CHROMIUM, os.X_OK):
        _unavailable(f"{CHROMIUM} is missing: apt-get install -y chromium")


if expect is not None:
    expect.set_options(timeout=TIMEOUT_MS)


# --- the database of one test module -----------------------------------------------------

def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def module_database(root: Path) -> Iterator[str]:
    """An empty database for one module's server: a SQLite file under `root`, or a fresh
    schema of METACRM_TEST_DATABASE_URL's PostgreSQL database (dropped afterwards) — the
    module-scoped twin of tests/conftest.py's `isolated_database_url`."""
    url = os.environ.get("METACRM_TEST_DATABASE_URL") or f"sqlite:///{root / 'browser.db'}"
    if not url.startswith("postgresql"):
        yield url
        return
    import sqlalchemy as sa

    from metacrm.storage.engine import create_database_engine

    admin = create_database_engine(url)
    schema = f"b_{uuid.uuid4().hex[:12]}"
    try:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    except sa.exc.OperationalError as error:
        admin.dispose()
        _unavailable(f"PostgreSQL not reachable at {url}: {error.orig}")
    try:
        yield (sa.make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
               .render_as_string(hide_password=False))
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


# --- the server ----------------------------------------------------------------------------

@dataclass
class Server:
    """A running `metacrm serve` of one test module, and the `metacrm` CLI of its instance."""

    url: str
    env: dict[str, str]
    root: Path
    log: Path
    process: subprocess.Popen[bytes] | None = None
    users: dict[str, str] = field(default_factory=dict)

    def run(self, *args: str, stdin: str | None = None) -> str:
        """Run `metacrm ARGS` against this instance; its output, or fail with it."""
        result = subprocess.run([*METACRM, *args], env=self.env, input=stdin, text=True,
                                capture_output=True, timeout=120, check=False)
        assert result.returncode == 0, (args, result.stdout, result.stderr)
        return result.stdout

    def create_user(self, name: str, role: str, *teams: str,
                    password: str = PASSWORD) -> None:
        """`metacrm user create NAME --role ROLE --password-stdin` (once per name)."""
        if name in self.users:
            assert self.users[name] == role, (name, self.users[name], role)
            return
        team_options = [option for team in teams for option in ("--team", team)]
        self.run("user", "create", name, "--role", role, *team_options, "--password-stdin",
                 stdin=password + "\n")
        self.users[name] = role

    def api_token(self, username: str, password: str = PASSWORD) -> str:
        """A JWT of `username` from the API's login, for setting the scene quickly."""
        response = httpx.post(f"{self.url}/api/v1/security/login", timeout=30, json={
            "username": username, "password": password, "provider": "db"})
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token

    def create_record(self, username: str, entity: str, values: Mapping[str, Any]
                      ) -> dict[str, Any]:
        """POST /api/v1/records/ENTITY as `username`: the record as stored."""
        response = httpx.post(f"{self.url}/api/v1/records/{entity}", json=dict(values),
                              timeout=30, headers={
                                  "Authorization": f"Bearer {self.api_token(username)}"})
        assert response.status_code == 201, response.text
        record: dict[str, Any] = response.json()["data"]
        return record

    def logs(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def answers(self) -> bool:
        try:
            return httpx.get(f"{self.url}/app/login", timeout=2).status_code == 200
        except httpx.TransportError:
            return False


def server_env(database_url: str, root: Path, metadata_paths: tuple[Path, ...],
               extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The process environment: this checkout's code, an instance of its own, no Redis
    (jobs run inline), no inherited METACRM_* setting."""
    inherited = {key: value for key, value in os.environ.items()
                 if not key.startswith("METACRM_")}
    return {
        **inherited,
        "PYTHONPATH": os.pathsep.join(filter(None, (str(PLATFORM),
                                                    inherited.get("PYTHONPATH")))),
        "METACRM_DATABASE_URL": database_url,
        "METACRM_INSTANCE_PATH": str(root / "instance"),
        "METACRM_METADATA_PATH": ":".join(str(path) for path in metadata_paths),
        "METACRM_SECRET_KEY": "browser-tests-" + uuid.uuid4().hex,
        "METACRM_ADMIN_USER": ADMIN,
        "METACRM_ADMIN_PASSWORD": PASSWORD,
        "METACRM_RATE_LIMIT": "100000 per minute",
        **(extra or {}),
    }


@contextmanager
def start_server(root: Path, database_url: str, *,
                 metadata_paths: tuple[Path, ...] = (SHIPPED_PACKS,),
                 extra_env: Mapping[str, str] | None = None,
                 demo: bool = False) -> Iterator[Server]:
    """`metacrm init` (packs + the admin) and `metacrm serve` — or, with `demo`, the
    README's `metacrm demo` (packs, demo data and its users, then serving) — until it
    answers; stopped at the end whatever happened, its log printed on a failure."""
    root.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    server = Server(url=f"http://127.0.0.1:{port}",
                    env=server_env(database_url, root, metadata_paths, extra_env),
                    root=root, log=root / "server.log")
    address = ("--host", "127.0.0.1", "--port", str(port))
    if demo:
        command = ["demo", *address]
    else:
        server.run("init")
        server.users[ADMIN] = "admin"
        command = ["serve", *address]
    with server.log.open("wb") as log:
        server.process = subprocess.Popen([*METACRM, *command], env=server.env, stdout=log,
                                          stderr=subprocess.STDOUT)
    try:
        _wait_until_answering(server)
        yield server
    except BaseException:
        print(f"--- server log ({server.log}) ---\n{server.logs()[-20000:]}")
        raise
    finally:
        _stop(server.process)


def _wait_until_answering(server: Server) -> None:
    assert server.process is not None
    end = time.monotonic() + SERVER_START_SECONDS
    while not server.answers():
        if server.process.poll() is not None:
            raise AssertionError(f"metacrm serve exited with {server.process.returncode}:\n"
                                 f"{server.logs()[-5000:]}")
        if time.monotonic() > end:
            raise AssertionError(f"metacrm serve did not answer in {SERVER_START_SECONDS} s")
        time.sleep(0.1)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (not Ctrl-C: a shell ignores SIGINT in background jobs, and so would the
    server), then kill; the database closes the connections of a process that is gone."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
    process.wait(timeout=15)


@contextmanager
def shipped_server(tmp_path_factory: pytest.TempPathFactory, name: str = "server",
                   **options: Any) -> Iterator[Server]:
    """A module's server on its own database with the shipped packs (or `metadata_paths`;
    `demo=True` for `metacrm demo`)."""
    root = tmp_path_factory.mktemp(name)
    with module_database(root) as database_url, start_server(root, database_url,
                                                              **options) as server:
        yield server


# --- the browser ---------------------------------------------------------------------------

@contextmanager
def launch_chromium() -> Iterator[Browser]:
    """Debian's headless Chromium under Playwright, for one test module."""
    require_browser()
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run",
                  "--disable-quic"])
        try:
            yield browser
        finally:
            browser.close()
    finally:
        playwright.stop()


def new_context(browser: Browser, server: Server, *, viewport: Mapping[str, int] = DESKTOP,
                locale: str = "en-US") -> BrowserContext:
    """A fresh profile (no cookies) whose relative URLs go to `server`."""
    context = browser.new_context(base_url=server.url, viewport=dict(viewport),  # type: ignore[arg-type]
                                  locale=locale)
    context.set_default_timeout(TIMEOUT_MS)
    return context


@contextmanager
def open_page(browser: Browser, server: Server, request: pytest.FixtureRequest,
              tmp_path: Path, **options: Any) -> Iterator[Page]:
    """A page in a fresh context; saved as failure.png/.html in tmp_path if the test fails.

    Whether the test failed is read from the session's failure count, which pytest raises
    when it logs the call's report — before fixtures are torn down."""
    context = new_context(browser, server, **options)
    page = context.new_page()
    failed_before = request.session.testsfailed
    try:
        yield page
    finally:
        if request.session.testsfailed > failed_before:
            save_page(page, tmp_path / "failure")
        context.close()


def save_page(page: Page, stem: Path) -> None:
    """A screenshot and the HTML of `page`, for a failure's post-mortem."""
    try:
        page.screenshot(path=str(stem.with_suffix(".png")), full_page=True)
        stem.with_suffix(".html").write_text(page.content())
        print(f"page {page.url} saved as {stem}.png / .html")
    except Exception as error:  # the test's own failure matters more
        print(f"could not save the page: {error}")


# --- what users do -------------------------------------------------------------------------

def sign_in(page: Page, username: str = ADMIN, password: str = PASSWORD) -> None:
    """Sign in through /app/login and land on the home page."""
    page.goto("/app/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.locator("form[action$='/app/login'] button[type=submit]").click()
    page.wait_for_url("**/app/")
