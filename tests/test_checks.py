"""The code passes the checks `make test` runs before the tests (ruff, pyright), so that a
change that breaks them is seen by whoever runs the tests, not first by CI."""
import ast
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


def _unannotated(path, root=ROOT):
    """``name (line): what is missing`` for each public function of ``path`` without full hints.

    Public: not starting with ``_``, at module level or in a public class (nested
    functions are the function's own business); ``self``/``cls`` need no hint."""
    found = []

    def visit(node, in_class):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef) and not child.name.startswith("_"):
                visit(child, True)
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) and not child.name.startswith("_"):
                args = child.args
                params = [*args.posonlyargs, *args.args, *args.kwonlyargs, *filter(None, [args.vararg, args.kwarg])]
                if in_class and params and params[0].arg in ("self", "cls") and not any(
                        isinstance(d, ast.Name) and d.id == "staticmethod" for d in child.decorator_list):
                    params = params[1:]
                missing = [p.arg for p in params if p.annotation is None]
                if child.returns is None:
                    missing.append("return")
                if missing:
                    found.append(f"{path.relative_to(root)}:{child.lineno} {child.name}: {', '.join(missing)}")
            elif isinstance(child, (ast.If, ast.Try)):  # functions defined under a condition
                visit(child, in_class)

    visit(ast.parse(path.read_text(encoding="utf-8")), False)
    return found


def test_every_public_engine_function_has_type_hints():
    """Every public function and method of ``engine/`` names the types of its parameters and
    of what it returns (migration scripts excepted: Alembic writes their two functions)."""
    versions = ROOT / "engine" / "migrations" / "versions"
    missing = [line for path in sorted((ROOT / "engine").rglob("*.py")) if versions not in path.parents
               for line in _unannotated(path)]
    assert not missing, "public functions without type hints:\n" + "\n".join(missing)


def test_the_hint_check_sees_what_is_missing(tmp_path):
    """The check above fails on a function that lacks a hint (and only on public ones)."""
    source = tmp_path / "sample.py"
    source.write_text("def shown(a, b: int) -> int: ...\n"
                      "def _private(a): ...\n"
                      "class Thing:\n"
                      "    def method(self, x: int): ...\n"
                      "    @staticmethod\n"
                      "    def static(self) -> None: ...\n"
                      "    def fine(self, *args: int, **kwargs: str) -> None:\n"
                      "        def inner(y): ...\n", encoding="utf-8")
    found = [line.split(" ", 1)[1] for line in _unannotated(source, tmp_path)]
    assert found == ["shown: a", "method: return", "static: self"]
