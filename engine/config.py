"""Every setting in one place, read from ``SANSHE_*`` environment variables."""
import os
from dataclasses import dataclass, field, fields
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _env(name: str, default: str) -> str:
    """The setting ``SANSHE_<name>`` from the environment, else ``default``."""
    return os.environ.get(f"SANSHE_{name}", default)


@dataclass
class Settings:
    # SQLAlchemy URL; SQLite file by default, e.g. postgresql+psycopg://127.0.0.1/test to scale out.
    database_url: str = field(default_factory=lambda: _env("DATABASE_URL", f"sqlite:///{PROJECT_ROOT / 'var' / 'sanshe.db'}"))
    # Folder with the BPMN diagrams and forms that `sanshe deploy` and `make run` deploy.
    processes_dir: str = field(default_factory=lambda: _env("PROCESSES_DIR", str(PROJECT_ROOT / "processes")))
    # Folder for uploaded attachments (stored in the database when empty).
    attachments_dir: str = field(default_factory=lambda: _env("ATTACHMENTS_DIR", ""))
    # Secret for session cookies and CSRF tokens; set it in production.
    secret_key: str = field(default_factory=lambda: _env("SECRET_KEY", "dev-only-change-me"))
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
    # API key for workers written elsewhere that use the HTTP job API.
    worker_api_key: str = field(default_factory=lambda: _env("WORKER_API_KEY", "dev-worker-key"))
    # Failed sign-ins before an account is locked for `login_lock_minutes`.
    login_max_failures: int = field(default_factory=lambda: int(_env("LOGIN_MAX_FAILURES", "5")))
    login_lock_minutes: int = field(default_factory=lambda: int(_env("LOGIN_LOCK_MINUTES", "15")))
    # Holidays the working-day calendar of process mining skips (ISO dates, comma-separated).
    calendar_holidays: str = field(default_factory=lambda: _env("CALENDAR_HOLIDAYS", ""))
    # Local time of the working-day calendar: hours east of UTC (China Standard Time is 8).
    calendar_utc_offset_hours: float = field(default_factory=lambda: float(_env("CALENDAR_UTC_OFFSET_HOURS", "8")))
    # Send the session cookie over HTTPS only; turn on behind TLS (off for plain-HTTP localhost).
    session_cookie_secure: bool = field(default_factory=lambda: _env("SESSION_COOKIE_SECURE", "0") in ("1", "true", "yes"))

    def as_dict(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with explicit overrides (used by tests)."""
    settings = Settings()
    for key, value in overrides.items():
        setattr(settings, key, value)
    return settings
