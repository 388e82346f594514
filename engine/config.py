"""Every setting in one place, read from ``SANSHE_*`` environment variables."""
import os
import secrets
from dataclasses import dataclass, field, fields
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Secrets that were once defaults or examples: whoever knows them can forge a session.
KNOWN_SECRETS = frozenset({"dev-only-change-me", "dev-worker-key", "change-me", "secret", "changeme"})
# Shortest secret `sanshe serve` accepts outside development.
MIN_SECRET_LENGTH = 32
# The files in `secrets_dir` that hold generated secrets, by setting.
SECRET_FILES = {"secret_key": "secret_key", "worker_api_key": "worker_api_key"}


def _env(name: str, default: str) -> str:
    """The setting ``SANSHE_<name>`` from the environment, else ``default``."""
    return os.environ.get(f"SANSHE_{name}", default)


def _secrets_dir() -> Path:
    return Path(_env("SECRETS_DIR", str(PROJECT_ROOT / "var")))


def _secret(name: str) -> str:
    """``SANSHE_<NAME>``, else the file the development set-up generated, else empty."""
    value = os.environ.get(f"SANSHE_{name.upper()}")
    if value is not None:
        return value
    path = _secrets_dir() / SECRET_FILES[name]
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError:
        return ""


@dataclass
class Settings:
    # SQLAlchemy URL; SQLite file by default, e.g. postgresql+psycopg://127.0.0.1/test to scale out.
    database_url: str = field(default_factory=lambda: _env("DATABASE_URL", f"sqlite:///{PROJECT_ROOT / 'var' / 'sanshe.db'}"))
    # Folder with the BPMN diagrams and forms that `sanshe deploy` and `make run` deploy.
    processes_dir: str = field(default_factory=lambda: _env("PROCESSES_DIR", str(PROJECT_ROOT / "processes")))
    # Folder for uploaded attachments (stored in the database when empty).
    attachments_dir: str = field(default_factory=lambda: _env("ATTACHMENTS_DIR", ""))
    # `development` (make run: secrets generated on first use) or `production` (the default:
    # `sanshe serve` refuses to start without strong secrets of its own).
    environment: str = field(default_factory=lambda: _env("ENV", "production"))
    # Folder where development keeps its generated secrets (files of mode 0600).
    secrets_dir: str = field(default_factory=lambda: str(_secrets_dir()))
    # Secret for session cookies and CSRF tokens (SANSHE_SECRET_KEY, else secrets_dir/secret_key).
    secret_key: str = field(default_factory=lambda: _secret("secret_key"))
    # Seconds between scheduler passes (timers, expired job locks).
    scheduler_interval: float = field(default_factory=lambda: float(_env("SCHEDULER_INTERVAL", "1.0")))
    # Default lock duration in seconds for jobs fetched by workers.
    job_lock_seconds: int = field(default_factory=lambda: int(_env("JOB_LOCK_SECONDS", "60")))
    # Retries a job gets before it becomes an incident.
    job_retries: int = field(default_factory=lambda: int(_env("JOB_RETRIES", "3")))
    # Base of the exponential retry backoff, in seconds.
    job_backoff_seconds: float = field(default_factory=lambda: float(_env("JOB_BACKOFF_SECONDS", "2")))
    # Seconds a diagram script or condition may run before it is stopped.
    script_timeout: float = field(default_factory=lambda: float(_env("SCRIPT_TIMEOUT", "1.0")))
    # Run diagram scripts and conditions in sandbox processes (no secrets, no database,
    # memory and CPU limits, killed past the time limit); 0 runs them in the engine's own
    # process with the checks and the deadline only.
    script_sandbox: bool = field(default_factory=lambda: _env("SCRIPT_SANDBOX", "1") in ("1", "true", "yes"))
    # Sandbox processes kept idle per engine process (more start while all are busy).
    script_processes: int = field(default_factory=lambda: int(_env("SCRIPT_PROCESSES", "2")))
    # Address space a sandbox process may use, in MB (RLIMIT_AS).
    script_memory_mb: int = field(default_factory=lambda: int(_env("SCRIPT_MEMORY_MB", "256")))
    # API key for workers written elsewhere that use the HTTP job API
    # (SANSHE_WORKER_API_KEY, else secrets_dir/worker_api_key); empty closes the API.
    worker_api_key: str = field(default_factory=lambda: _secret("worker_api_key"))
    # Failed sign-ins per account name that cost nothing; each further one doubles the wait
    # before the next try (1 s, 2 s, 4 s ...) up to `login_account_max_delay` seconds.
    # Nobody is locked out: a stranger can delay a person's sign-in by at most that much.
    login_account_free_failures: int = field(default_factory=lambda: int(_env("LOGIN_ACCOUNT_FREE_FAILURES", "5")))
    login_account_max_delay: float = field(default_factory=lambda: float(_env("LOGIN_ACCOUNT_MAX_DELAY", "60")))
    # The same per client address (many people may share one office address).
    login_address_free_failures: int = field(default_factory=lambda: int(_env("LOGIN_ADDRESS_FREE_FAILURES", "20")))
    login_address_max_delay: float = field(default_factory=lambda: float(_env("LOGIN_ADDRESS_MAX_DELAY", "900")))
    # Holidays the working-day calendar of process mining skips (ISO dates, comma-separated).
    calendar_holidays: str = field(default_factory=lambda: _env("CALENDAR_HOLIDAYS", ""))
    # Local time of the working-day calendar: hours east of UTC (China Standard Time is 8).
    calendar_utc_offset_hours: float = field(default_factory=lambda: float(_env("CALENDAR_UTC_OFFSET_HOURS", "8")))
    # Send the session cookie over HTTPS only; turn on behind TLS (off for plain-HTTP localhost).
    session_cookie_secure: bool = field(default_factory=lambda: _env("SESSION_COOKIE_SECURE", "0") in ("1", "true", "yes"))

    # SQLite only: seconds a writer waits for the write lock held elsewhere (a backup, an
    # administrator's shell) before the request answers "busy, try again" (503) and a
    # worker or the scheduler pauses and tries again.
    sqlite_busy_seconds: float = field(default_factory=lambda: float(_env("SQLITE_BUSY_SECONDS", "75")))
    # PostgreSQL only: connections each process keeps open, which is also how many of its
    # requests (or jobs) work in the database at once; the others wait for a free one. Ten
    # keep a web process of a 2-core machine busy; more make every page slower, not more
    # pages served. Keep (web processes + workers + schedulers) x (this + 4) under the
    # server's max_connections.
    db_pool_size: int = field(default_factory=lambda: int(_env("DB_POOL_SIZE", "10")))
    # People's requests one web process works on at once (webui/admission.py); the others
    # wait their turn. Job polls and health checks do not count.
    web_active_requests: int = field(default_factory=lambda: max(1, int(_env("WEB_ACTIVE_REQUESTS", "8"))))
    # Bearer token that /metrics requires (`Authorization: Bearer <token>`); empty closes
    # /metrics (404). /healthz and /readyz are open: they tell nothing but up or not.
    metrics_token: str = field(default_factory=lambda: _env("METRICS_TOKEN", ""))
    # `text` (one readable line per record) or `json` (one JSON object per line, with the
    # request id of the web request it belongs to) for the logs of every process.
    log_format: str = field(default_factory=lambda: _env("LOG_FORMAT", "text"))
    # /readyz reports not ready when no scheduler (on any host) has beat for this many seconds.
    ready_scheduler_seconds: float = field(default_factory=lambda: float(_env("READY_SCHEDULER_SECONDS", "60")))
    # E-mail of notifications: off while no SMTP host is set. Port, account (empty: no login),
    # the sender address, and STARTTLS before logging in (1 to turn on).
    smtp_host: str = field(default_factory=lambda: _env("SMTP_HOST", ""))
    smtp_port: int = field(default_factory=lambda: int(_env("SMTP_PORT", "25")))
    smtp_user: str = field(default_factory=lambda: _env("SMTP_USER", ""))
    smtp_password: str = field(default_factory=lambda: _env("SMTP_PASSWORD", ""))
    smtp_from: str = field(default_factory=lambda: _env("SMTP_FROM", "sanshe@localhost"))
    smtp_starttls: bool = field(default_factory=lambda: _env("SMTP_STARTTLS", "0") in ("1", "true", "yes"))
    # Local hour (calendar_utc_offset_hours) at which daily digests are sent.
    digest_hour: int = field(default_factory=lambda: int(_env("DIGEST_HOUR", "8")))
    # Webhook for an SMS or messaging gateway: every notification is POSTed there as JSON,
    # signed with HMAC-SHA256 of the body under `webhook_secret` (header X-Sanshe-Signature).
    # Off while empty.
    webhook_url: str = field(default_factory=lambda: _env("WEBHOOK_URL", ""))
    webhook_secret: str = field(default_factory=lambda: _env("WEBHOOK_SECRET", ""))
    # Sends tried before a delivery is given up; the wait doubles from `delivery_backoff_seconds`.
    delivery_attempts: int = field(default_factory=lambda: int(_env("DELIVERY_ATTEMPTS", "6")))
    delivery_backoff_seconds: float = field(default_factory=lambda: float(_env("DELIVERY_BACKOFF_SECONDS", "30")))
    # The address people open Sanshe at, for the links in e-mails.
    base_url: str = field(default_factory=lambda: _env("BASE_URL", "http://127.0.0.1:5000"))

    def as_dict(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with explicit overrides (used by tests)."""
    settings = Settings()
    for key, value in overrides.items():
        setattr(settings, key, value)
    return settings


def secret_problems(settings: Settings) -> list[str]:
    """Why the secrets in ``settings`` are unfit for serving; ``[]`` when they are fine."""
    problems = []
    for name in SECRET_FILES:
        value = getattr(settings, name)
        variable = f"SANSHE_{name.upper()}"
        if not value:
            problems.append(f"{variable} is not set")
        elif value in KNOWN_SECRETS:
            problems.append(f"{variable} is a publicly known default")
        elif len(value) < MIN_SECRET_LENGTH:
            problems.append(f"{variable} is shorter than {MIN_SECRET_LENGTH} characters")
    return problems


def create_missing_secrets(settings: Settings) -> Path:
    """Generate each missing or known-default secret into ``secrets_dir`` (mode 0600) and put
    it into ``settings``; returns the folder. For development only: production brings its own."""
    folder = Path(settings.secrets_dir)
    folder.mkdir(parents=True, exist_ok=True)
    for name, filename in SECRET_FILES.items():
        value = getattr(settings, name)
        if value and value not in KNOWN_SECRETS:
            continue
        path = folder / filename
        value = secrets.token_urlsafe(48)
        # Written under a private name, then published with a hard link, which fails if the file
        # exists: several processes started at once (a serve group per host) end up sharing the
        # secret the first one published, instead of each overwriting the others' (whose cookies
        # would then be refused across hosts). Created with 0600 from the start.
        draft = folder / f".{filename}.{os.getpid()}.{secrets.token_hex(4)}"
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(value + "\n")
        try:
            os.link(draft, path)
        except FileExistsError:
            published = path.read_text(encoding="utf-8").strip()
            if published and published not in KNOWN_SECRETS:
                value = published
            else:  # an empty or known default file is replaced, atomically
                os.replace(draft, path)
        finally:
            draft.unlink(missing_ok=True)
        os.chmod(path, 0o600)
        setattr(settings, name, value)
    return folder
