"""A private dovecot IMAP server for tests: Debian's `/usr/sbin/dovecot` (package
dovecot-imapd; `.ci/run` installs it) started in the foreground on a free loopback port,
with a throwaway configuration, a passwd-file of users and maildirs under a temporary
folder — never the machine's own configuration. Skips when dovecot is missing (fails under
METACRM_REQUIRE_SERVICES=1)."""

from __future__ import annotations

import grp
import imaplib
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from process_harness import free_port, wait_until

DOVECOT = Path("/usr/sbin/dovecot")
PASSWORD = "imap-test-password"


def require_dovecot() -> Path:
    if not DOVECOT.exists():
        reason = f"{DOVECOT} is not installed (apt-get install dovecot-imapd)"
        if os.environ.get("METACRM_REQUIRE_SERVICES") == "1":
            pytest.fail(f"required service unavailable: {reason}")
        pytest.skip(reason)
    return DOVECOT


@dataclass
class ImapServer:
    host: str
    port: int
    root: Path

    def url(self, user: str) -> str:
        return f"imap://{user}@{self.host}:{self.port}"

    def append(self, user: str, raw: bytes, folder: str = "INBOX") -> None:
        """Deliver `raw` into `user`'s folder (IMAP APPEND)."""
        with imaplib.IMAP4(self.host, self.port, timeout=10) as client:
            client.login(user, PASSWORD)
            status, data = client.append(folder, "", imaplib.Time2Internaldate(time.time()),
                                         raw)
            assert status == "OK", data

    def recreate_folder(self, user: str, folder: str = "INBOX.renewed") -> None:
        with imaplib.IMAP4(self.host, self.port, timeout=10) as client:
            client.login(user, PASSWORD)
            client.create(folder)


def _service_users() -> tuple[str, str, str]:
    """Who dovecot's login and internal processes run as: its own unprivileged accounts
    when started by root (it refuses to run them as root), else the current user."""
    if os.getuid() == 0:
        login = _account("dovenull") or _account("nobody")
        internal = _account("dovecot") or login
        if login is None or internal is None:
            pytest.skip("no unprivileged account (dovenull, nobody) to run dovecot's logins")
        return login, internal, grp.getgrgid(pwd.getpwnam(internal).pw_gid).gr_name
    me = pwd.getpwuid(os.getuid()).pw_name
    return me, me, grp.getgrgid(os.getgid()).gr_name


def _account(name: str) -> str | None:
    try:
        return pwd.getpwnam(name).pw_name
    except KeyError:
        return None


def _config(root: Path, run: Path, port: int, users: list[str]) -> Path:
    login, internal, group = _service_users()
    owner = pwd.getpwnam(internal)  # the maildirs' owner (dovecot refuses uid 0 for mail)
    for folder in (run / "mail", run / "home"):
        folder.mkdir()
        os.chown(folder, owner.pw_uid, owner.pw_gid)
    (run / "passwd").write_text("".join(f"{user}:{{PLAIN}}{PASSWORD}::::::\n"
                                         for user in users), encoding="utf-8")
    config = root / "dovecot.conf"
    config.write_text(f"""
protocols = imap
listen = 127.0.0.1
base_dir = {run}
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = {login}
default_internal_user = {internal}
default_internal_group = {group}
first_valid_uid = 0
first_valid_gid = 0
mail_location = maildir:{run}/mail/%u
passdb {{
  driver = passwd-file
  args = {run}/passwd
}}
userdb {{
  driver = static
  args = uid={owner.pw_uid} gid={owner.pw_gid} home={run}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
service stats {{
  unix_listener stats-reader {{
    user = {internal}
  }}
  unix_listener stats-writer {{
    user = {internal}
  }}
}}
""", encoding="utf-8")
    return config


def _answers(port: int) -> bool:
    try:
        with imaplib.IMAP4("127.0.0.1", port, timeout=2):
            return True
    except (OSError, imaplib.IMAP4.error):
        return False


@contextmanager
def imap_server(root: Path, users: list[str]) -> Iterator[ImapServer]:
    """Dovecot serving `users` (password `PASSWORD`) on 127.0.0.1 until the block ends."""
    binary = require_dovecot()
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    # the login processes (an unprivileged account) reach the sockets in base_dir: a
    # folder of its own, open to them, outside pytest's private temporary tree
    run = Path(tempfile.mkdtemp(prefix="metacrm-dovecot-"))
    run.chmod(0o755)
    config = _config(root, run, port, users)
    process = subprocess.Popen([str(binary), "-F", "-c", str(config)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        try:
            wait_until(lambda: process.poll() is not None or _answers(port), deadline=20,
                       what="dovecot to listen")
        except AssertionError:
            log = (root / "dovecot.log").read_text("utf-8", "replace") if (
                root / "dovecot.log").exists() else ""
            raise AssertionError(f"dovecot did not start: {log[-2000:]}") from None
        if process.poll() is not None:
            raise AssertionError(f"dovecot exited with {process.returncode}; its log is "
                                 f"{root / 'dovecot.log'}")
        yield ImapServer("127.0.0.1", port, root)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(run, ignore_errors=True)
