"""`make run` on any port, printing only the administrator's sign-in (the recipe is read,
not run: its parts are the commands tested here and in tests/webui/test_serve.py)."""
import re
from pathlib import Path

from click.testing import CliRunner

from cli import main
from tests.conftest import make_services

ROOT = Path(__file__).resolve().parents[2]


def run_recipe() -> str:
    makefile = (ROOT / "Makefile").read_text()
    return re.search(r"^run:.*?\n((?:\t.*\n)+)", makefile, re.M).group(1)


def test_make_run_passes_the_port_and_defaults_to_5000():
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^PORT \?= 5000$", makefile, re.M)
    recipe = run_recipe()
    assert "cli serve --port $(PORT)" in recipe and "http://127.0.0.1:$(PORT)" in recipe
    assert "demo --if-empty --accounts admin" in recipe
    assert "demo-" not in recipe  # no password in the recipe itself


def test_the_demo_prints_only_the_administrators_sign_in(sqlite_url):
    make_services(sqlite_url).db.dispose()
    env = {"SANSHE_DATABASE_URL": sqlite_url}
    first = CliRunner().invoke(main, ["demo", "--if-empty", "--accounts", "admin", "-n", "1"], env=env)
    assert first.exit_code == 0, first.output
    again = CliRunner().invoke(main, ["demo", "--if-empty", "--accounts", "admin"], env=env)
    for output in (first.output, again.output):
        assert "Sign in as admin / demo-admin" in output and "users list" in output
        assert len(re.findall(r"demo-\w+", output)) == 1, output  # no other account's password
