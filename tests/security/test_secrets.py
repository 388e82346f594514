"""No publicly known secret opens the application."""
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from flask.sessions import SecureCookieSessionInterface

from engine.config import create_missing_secrets, load_settings, secret_problems
from webui import create_app

ROOT = Path(__file__).resolve().parents[2]


def _forged_admin_cookie(app, secret: str, user_id: int) -> str:
    """A session cookie for ``user_id`` signed with ``secret``, as an attacker would make it."""
    forger = create_app(services=app.extensions["sanshe"], test_config={"SECRET_KEY": secret})
    serializer = SecureCookieSessionInterface().get_signing_serializer(forger)
    return serializer.dumps({"_user_id": str(user_id), "_fresh": True})


def test_a_session_cookie_forged_with_the_old_default_secret_does_not_open_the_admin_pages(web):
    user_id = web.world.users.admin.id
    for version in ("", ".0"):
        cookie = _forged_admin_cookie(web.app, "dev-only-change-me", f"{user_id}{version}")
        client = web.app.test_client()
        client.set_cookie("sanshe_session", cookie)
        response = client.get("/admin/users")
        assert response.status_code == 302 and "/login" in response.location


def test_the_app_refuses_a_publicly_known_secret_key(services):
    services.settings.secret_key = "dev-only-change-me"
    with pytest.raises(RuntimeError, match="publicly known"):
        create_app(services=services)


def _serve(env: dict) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SANSHE_")}
    return subprocess.run([sys.executable, "-m", "cli", "serve", "--port", "1"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, env={**clean, "PYTHONPATH": str(ROOT), **env})


@pytest.mark.parametrize("secret, worker_key, problem", [
    (None, None, "SANSHE_SECRET_KEY is not set"),
    ("dev-only-change-me", "x" * 40, "SANSHE_SECRET_KEY is a publicly known default"),
    ("s" * 40, "dev-worker-key", "SANSHE_WORKER_API_KEY is a publicly known default"),
    ("short", "x" * 40, "shorter than 32"),
])
def test_serve_in_production_refuses_to_start_with_missing_or_default_secrets(tmp_path, secret, worker_key, problem):
    env = {"SANSHE_SECRETS_DIR": str(tmp_path), "SANSHE_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
    if secret is not None:
        env["SANSHE_SECRET_KEY"] = secret
    if worker_key is not None:
        env["SANSHE_WORKER_API_KEY"] = worker_key
    result = _serve(env)
    assert result.returncode != 0
    assert "refusing to start" in result.stderr and problem in result.stderr
    assert "Sanshe at http" not in result.stdout


def test_development_generates_private_random_secrets_once_and_says_where(tmp_path, monkeypatch):
    for name in ("SANSHE_SECRET_KEY", "SANSHE_WORKER_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SANSHE_SECRETS_DIR", str(tmp_path))
    settings = load_settings(worker_api_key="dev-worker-key")
    assert settings.secret_key == "" and secret_problems(settings)
    assert create_missing_secrets(settings) == tmp_path
    assert secret_problems(settings) == []
    for name in ("secret_key", "worker_api_key"):
        path = tmp_path / name
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert path.read_text().strip() == getattr(settings, name)
    # The next start reads the same secrets (sessions survive a restart) and keeps them.
    restarted = load_settings()
    assert (restarted.secret_key, restarted.worker_api_key) == (settings.secret_key, settings.worker_api_key)
    create_missing_secrets(restarted)
    assert (tmp_path / "secret_key").read_text().strip() == settings.secret_key
    monkeypatch.setenv("SANSHE_SECRETS_DIR", str(tmp_path / "elsewhere"))
    other = load_settings()
    create_missing_secrets(other)
    assert other.secret_key != settings.secret_key


def test_processes_started_at_once_share_the_secret_the_first_one_wrote(tmp_path, monkeypatch):
    """Two serve groups started together on one secrets folder: both read no secret, both make
    one; the second must take the first's, or sessions made on one host are refused on the other."""
    for name in ("SANSHE_SECRET_KEY", "SANSHE_WORKER_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SANSHE_SECRETS_DIR", str(tmp_path))
    first, second = load_settings(), load_settings()  # both before either wrote a file
    assert first.secret_key == second.secret_key == ""
    create_missing_secrets(first)
    create_missing_secrets(second)
    assert (second.secret_key, second.worker_api_key) == (first.secret_key, first.worker_api_key)
    assert (tmp_path / "secret_key").read_text().strip() == first.secret_key
    assert sorted(path.name for path in tmp_path.iterdir()) == ["secret_key", "worker_api_key"]  # no drafts left
    # A file that holds only a known default is replaced by a real secret.
    (tmp_path / "secret_key").write_text("change-me\n")
    third = load_settings()
    create_missing_secrets(third)
    assert third.secret_key not in ("change-me", first.secret_key)
    assert (tmp_path / "secret_key").read_text().strip() == third.secret_key
