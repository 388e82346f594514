"""The code passes the checks `make test` runs before the tests (ruff, pyright), so that a
change that breaks them is seen by whoever runs the tests, not first by CI."""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def run(tool, *args):
    return subprocess.run([str(BIN / tool), *args], cwd=ROOT, capture_output=True, text=True, timeout=900)


def test_ruff_finds_nothing():
    result = run("ruff", "check", "--no-cache", ".")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_pyright_finds_no_type_errors():
    result = run("pyright")
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr
