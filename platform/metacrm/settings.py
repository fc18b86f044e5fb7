"""Settings from environment variables: the only module that reads the environment.

- `METACRM_DATABASE_URL`: SQLAlchemy URL (sqlite or postgresql+psycopg); default a SQLite
  file in the instance folder.
- `METACRM_METADATA_PATH`: pack roots separated by `:`; default the repository's `metadata/`.
- `METACRM_REDIS_URL`: Redis for the job queue; unset = jobs run inline.
- `METACRM_SECRET_KEY`: signing key for sessions and tokens; default generated once and kept
  in the instance folder.
- `METACRM_INSTANCE_PATH`: folder for the SQLite file and local state; default `./instance`.
- `METACRM_RATE_LIMIT`: requests each user, personal token or (anonymous) address may make
  to the web app, in Flask-Limiter notation (`600 per minute`, `10/second;1000/hour`);
  counted in Redis when `METACRM_REDIS_URL` is set, in process memory otherwise.
- `METACRM_SMTP_URL`: where mail goes, `smtp://[user:password@]host:port` (`smtps://` for
  TLS from the start, `?starttls=true` to upgrade); unset = mail is refused with a clear error.
- `METACRM_MAIL_FROM`: the sender of the mail metacrm sends; default `metacrm@localhost`.
- `METACRM_WEBHOOK_ALLOW_PRIVATE`: `true` lets webhooks target loopback, private and
  link-local addresses (tests, closed networks); default refused.
- `METACRM_WEBHOOK_RETRY_FIRST_SECONDS`: the wait before a failed delivery's first retry
  (later waits double, with jitter); default 10.
- `METACRM_JOB_LEASE_SECONDS`: how long a worker may hold a work item before it is deemed
  dead and the item is handed out again; default 45 (a dead worker's item runs again within
  a minute).
- `METACRM_EXTENSIONS`: extension packs' modules, separated by `,`; each module's
  `install(services)` registers what the pack adds (actions, consumers, field types...).
- `METACRM_HTTPS`: `true` when users reach metacrm over HTTPS (directly or through a proxy):
  cookies are marked `Secure` and responses carry HSTS; default false.
- `METACRM_TRUSTED_PROXIES`: how many reverse proxies in front of metacrm to trust for the
  client address, scheme and host (`X-Forwarded-For/-Proto/-Host/-Port`); default 0 (the
  headers are ignored: anyone could send them). Login limits count per client address, so
  set it behind a proxy.
- `METACRM_FILE_STORE`: where attachments' and documents' bytes live: `local` (default, the
  folder `<instance>/files`) or `s3` (any S3-compatible store, boto3: `pip install
  metacrm[s3]`) with `METACRM_S3_BUCKET` (required), `METACRM_S3_ENDPOINT_URL` (unset = AWS),
  `METACRM_S3_REGION`, `METACRM_S3_ACCESS_KEY_ID`, `METACRM_S3_SECRET_ACCESS_KEY` (unset =
  boto3's own credential chain) and `METACRM_S3_PREFIX` (prepended to object names).
- `METACRM_UPLOAD_MAX_BYTES`: the largest attachment accepted; default 104857600 (100 MB).
- `METACRM_TWILIO_ACCOUNT_SID` / `METACRM_TWILIO_AUTH_TOKEN`: SMS and calls through a
  Twilio-compatible API (`METACRM_TWILIO_API_BASE`, default `https://api.twilio.com`); the
  CRM's numbers in `METACRM_TELEPHONY_NUMBERS`, E.164 separated by `,`, the first sends;
  `+15550001111:noleads` keeps a number from creating leads for unknown callers. Unset =
  SMS and calls are refused with a clear error.
- `METACRM_ADMIN_USER` / `METACRM_ADMIN_PASSWORD`: read by `metacrm init` only, which
  creates this first admin user when it does not exist yet.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from pathlib import Path

from metacrm.resources import RESOURCE_ROOT, folder

REPOSITORY_ROOT = RESOURCE_ROOT
"""The checkout holding `platform/`, `metadata/` and `schemas/`, or the installed package's
bundled copy of those folders (`metacrm.resources`)."""

DEFAULT_METADATA_PATH = folder("metadata")

DEFAULT_RATE_LIMIT = "600 per minute"


@dataclass(frozen=True)
class S3Settings:
    """Where the `s3` file store keeps blobs (`METACRM_S3_*`)."""

    bucket: str
    endpoint_url: str | None = None
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = dataclass_field(default=None, repr=False)
    prefix: str = ""


@dataclass(frozen=True)
class TelephonyNumber:
    """One of the CRM's phone numbers (E.164) and whether strangers calling it become leads."""

    number: str
    create_leads: bool = True


@dataclass(frozen=True)
class TelephonySettings:
    """The Twilio-compatible account SMS and calls go through (`METACRM_TWILIO_*`)."""

    account_sid: str
    auth_token: str = dataclass_field(repr=False)
    numbers: tuple[TelephonyNumber, ...] = ()
    api_base: str = "https://api.twilio.com"


@dataclass(frozen=True)
class Settings:
    database_url: str
    metadata_paths: tuple[Path, ...]
    redis_url: str | None
    secret_key: str
    instance_path: Path
    rate_limit: str = DEFAULT_RATE_LIMIT
    admin_user: str | None = None
    admin_password: str | None = dataclass_field(default=None, repr=False)
    smtp_url: str | None = dataclass_field(default=None, repr=False)
    mail_from: str = "metacrm@localhost"
    public_url: str = "http://localhost:5000"
    """Where the instance is reached from outside (`METACRM_PUBLIC_URL`): links in mail,
    such as satisfaction surveys, start with it."""
    mail_outbox: bool = False
    """Keep outgoing mail in an outbox table (`instance/mail-outbox.db`) instead of failing
    when no SMTP server is set (`metacrm demo` sets it; no environment variable)."""
    webhook_allow_private: bool = False
    webhook_retry_first_seconds: float = 10.0
    job_lease_seconds: float = 45.0
    extensions: tuple[str, ...] = ()
    https: bool = False
    trusted_proxies: int = 0
    fiscal_year_start: int = 1
    """The month (1-12) fiscal years start in: report quarter and year buckets follow it
    (`METACRM_FISCAL_YEAR_START`, default January)."""
    file_store: str = "local"
    s3: S3Settings | None = dataclass_field(default=None, repr=False)
    upload_max_bytes: int = 100 * 1024 * 1024
    telephony: TelephonySettings | None = dataclass_field(default=None, repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        instance = Path(env.get("METACRM_INSTANCE_PATH") or "instance").resolve()
        database_url = env.get("METACRM_DATABASE_URL") or f"sqlite:///{instance / 'metacrm.db'}"
        raw_paths = env.get("METACRM_METADATA_PATH")
        paths = (
            tuple(Path(p).resolve() for p in raw_paths.split(os.pathsep) if p)
            if raw_paths
            else (DEFAULT_METADATA_PATH,)
        )
        return cls(
            database_url=database_url,
            metadata_paths=paths,
            redis_url=env.get("METACRM_REDIS_URL") or None,
            secret_key=env.get("METACRM_SECRET_KEY") or "",
            instance_path=instance,
            rate_limit=env.get("METACRM_RATE_LIMIT") or DEFAULT_RATE_LIMIT,
            admin_user=env.get("METACRM_ADMIN_USER") or None,
            admin_password=env.get("METACRM_ADMIN_PASSWORD") or None,
            smtp_url=env.get("METACRM_SMTP_URL") or None,
            mail_from=env.get("METACRM_MAIL_FROM") or "metacrm@localhost",
            public_url=(env.get("METACRM_PUBLIC_URL") or "http://localhost:5000").rstrip("/"),
            webhook_allow_private=_flag(env, "METACRM_WEBHOOK_ALLOW_PRIVATE"),
            webhook_retry_first_seconds=_seconds(env, "METACRM_WEBHOOK_RETRY_FIRST_SECONDS",
                                                 10.0),
            job_lease_seconds=_seconds(env, "METACRM_JOB_LEASE_SECONDS", 45.0),
            extensions=tuple(name.strip() for name in
                             (env.get("METACRM_EXTENSIONS") or "").split(",") if name.strip()),
            https=_flag(env, "METACRM_HTTPS"),
            trusted_proxies=_count(env, "METACRM_TRUSTED_PROXIES"),
            fiscal_year_start=_month(env, "METACRM_FISCAL_YEAR_START"),
            file_store=_file_store(env),
            s3=_s3(env),
            upload_max_bytes=_bytes(env, "METACRM_UPLOAD_MAX_BYTES", 100 * 1024 * 1024),
            telephony=_telephony(env),
        )

    def ensure_instance(self) -> None:
        """Create the instance folder (for the default SQLite file) when it is used."""
        if self.database_url.startswith("sqlite:///"):
            self.instance_path.mkdir(parents=True, exist_ok=True)

    def effective_secret_key(self) -> str:
        """The configured key, or one generated once and kept in the instance folder."""
        if self.secret_key:
            return self.secret_key
        key_file = self.instance_path / "secret_key"
        if key_file.exists():
            return key_file.read_text().strip()
        self.instance_path.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        key_file.write_text(key)
        key_file.chmod(0o600)
        return key


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})


def _flag(env: Mapping[str, str], name: str) -> bool:
    value = (env.get(name) or "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{name}={env.get(name)!r} is neither true nor false")


def _count(env: Mapping[str, str], name: str) -> int:
    raw = (env.get(name) or "").strip()
    if not raw:
        return 0
    if not raw.isascii() or not raw.isdigit() or int(raw) > 10:
        raise ValueError(f"{name}={raw!r} must be a whole number from 0 to 10")
    return int(raw)


def _month(env: Mapping[str, str], name: str) -> int:
    raw = (env.get(name) or "").strip()
    if not raw:
        return 1
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= 12:
        raise ValueError(f"{name}={raw!r} must be a month number from 1 to 12")
    return int(raw)


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a number of seconds") from None
    if not value > 0 or value == float("inf"):
        raise ValueError(f"{name}={raw!r} must be a positive number of seconds")
    return value


FILE_STORES = ("local", "s3")


def _file_store(env: Mapping[str, str]) -> str:
    kind = (env.get("METACRM_FILE_STORE") or "local").strip().lower()
    if kind not in FILE_STORES:
        raise ValueError(f"METACRM_FILE_STORE={kind!r} must be one of {', '.join(FILE_STORES)}")
    if kind == "s3" and not (env.get("METACRM_S3_BUCKET") or "").strip():
        raise ValueError("METACRM_FILE_STORE=s3 needs METACRM_S3_BUCKET")
    return kind


def _s3(env: Mapping[str, str]) -> S3Settings | None:
    bucket = (env.get("METACRM_S3_BUCKET") or "").strip()
    if not bucket:
        return None
    return S3Settings(
        bucket=bucket,
        endpoint_url=env.get("METACRM_S3_ENDPOINT_URL") or None,
        region=env.get("METACRM_S3_REGION") or None,
        access_key_id=env.get("METACRM_S3_ACCESS_KEY_ID") or None,
        secret_access_key=env.get("METACRM_S3_SECRET_ACCESS_KEY") or None,
        prefix=env.get("METACRM_S3_PREFIX") or "",
    )


def _telephony(env: Mapping[str, str]) -> TelephonySettings | None:
    sid = (env.get("METACRM_TWILIO_ACCOUNT_SID") or "").strip()
    token = env.get("METACRM_TWILIO_AUTH_TOKEN") or ""
    if not sid or not token:
        return None
    numbers: list[TelephonyNumber] = []
    for entry in (env.get("METACRM_TELEPHONY_NUMBERS") or "").split(","):
        number, _, option = entry.strip().partition(":")
        if not number:
            continue
        if not number.startswith("+") or not number[1:].isdigit() or option not in (
                "", "noleads"):
            raise ValueError(f"METACRM_TELEPHONY_NUMBERS: {entry.strip()!r} must be an E.164 "
                             "number such as +15550001111, optionally followed by :noleads")
        numbers.append(TelephonyNumber(number, option != "noleads"))
    return TelephonySettings(sid, token, tuple(numbers),
                             (env.get("METACRM_TWILIO_API_BASE") or "https://api.twilio.com"
                              ).rstrip("/"))


def _bytes(env: Mapping[str, str], name: str, default: int) -> int:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    if not raw.isascii() or not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{name}={raw!r} must be a positive whole number of bytes")
    return int(raw)
