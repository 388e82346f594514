"""Regenerate the initial migration from the table modules (before the first release only)."""
import sys
import tempfile
from pathlib import Path

from alembic import command
from alembic.config import Config

from engine.core.db import MIGRATIONS_DIR


def regenerate_initial() -> None:
    versions = MIGRATIONS_DIR / "versions"
    for old in versions.glob("0001_*.py"):
        old.unlink()
    with tempfile.TemporaryDirectory() as tmp:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        config.set_main_option("sqlalchemy.url", f"sqlite:///{Path(tmp) / 'empty.db'}")
        command.revision(config, message="initial schema", autogenerate=True, rev_id="0001")
    print("regenerated", *versions.glob("0001_*.py"), file=sys.stderr)


if __name__ == "__main__":
    regenerate_initial()
