"""Diagram code cannot read secrets or change the engine's shared classes.

Each escape below once worked against the running application; the checker refuses it
before it runs, at deploy time and at run time.
"""
from fractions import Fraction
from numbers import Number
from pathlib import Path
from xml.sax.saxutils import escape

import jsonschema
import pytest

from engine.core.models import ROLES
from engine.core.scripting import RestrictedEnvironment, ScriptRejected, check_expression
from engine.core.validation import validate_bundle

DATA = Path(__file__).resolve().parents[1] / "data" / "validation"
FORMS = {"propose.schema.json": (DATA / "forms" / "propose.schema.json").read_text()}
SECRET_READER = "{0.__globals__[sys].modules[os].environ[SANSHE_SECRET_KEY]}"


@pytest.fixture
def env() -> RestrictedEnvironment:
    return RestrictedEnvironment(timeout=0.3)


def _deploy_findings(script: str) -> list[str]:
    """What validation says about the test diagram with ``script`` as its script task."""
    xml = (DATA / "valid.bpmn").read_text().replace(
        "revision_rounds = revision_rounds + 1", escape(script))
    roles = [r for r in ROLES if r != "administrator"]
    return [f.message for f in validate_bundle({"valid.bpmn": xml.encode()}, FORMS, roles, {"count_votes"})]


MATCH_FORMAT = (
    "match '':\n"
    "    case str(format=f):\n"
    f"        leaked = f('{SECRET_READER}', check_expression)\n"
)


def test_match_class_pattern_cannot_fetch_str_format_to_read_the_secret_key(env):
    assert any("attribute 'format' is not allowed" in p for p in check_expression(MATCH_FORMAT, "exec"))
    data: dict = {}
    with pytest.raises(ScriptRejected):
        env.execute(MATCH_FORMAT, data)
    assert "leaked" not in data
    assert any("format" in m for m in _deploy_findings(MATCH_FORMAT))


@pytest.mark.parametrize("attribute", ["__class__", "_private", "format_map", "register"])
def test_match_class_pattern_cannot_read_forbidden_attributes(attribute):
    script = f"match x:\n    case int({attribute}=got):\n        y = got"
    assert check_expression(script, "exec"), attribute


PATCH_FRACTION = "Fraction.limit_denominator = lambda self, n=0: Fraction(1)\nresult = 1"


def test_assigning_to_fraction_cannot_change_how_later_votes_are_counted(env):
    assert any("assigning or deleting attribute 'limit_denominator'" in p
               for p in check_expression(PATCH_FRACTION, "exec"))
    before = Fraction.limit_denominator
    with pytest.raises(ScriptRejected):
        env.execute(PATCH_FRACTION, {})
    assert Fraction.limit_denominator is before
    # 1 yes and 8 no stays a rejection under a two-thirds rule
    assert env.evaluate("yes >= Fraction(2, 3) * total", {"yes": 1, "total": 9}) is False
    assert any("limit_denominator" in m for m in _deploy_findings(PATCH_FRACTION))


@pytest.mark.parametrize("script", [
    "Fraction.limit_denominator += 1",
    "del Fraction.limit_denominator",
    "datetime.now = lambda: 0",
    "x.y.z = 1",
    "(a, Fraction.numerator) = (1, 2)",
    "for Fraction.numerator in [1]:\n    pass",
])
def test_no_attribute_of_a_shared_object_can_be_assigned_or_deleted(script):
    assert any("assigning or deleting attribute" in p for p in check_expression(script, "exec")), script


def test_fraction_register_cannot_make_strings_count_as_numbers(env):
    assert any("attribute 'register' is not allowed" in p for p in check_expression("Fraction.register(str)"))
    with pytest.raises(ScriptRejected):
        env.evaluate("Fraction.register(str)", {})
    assert not isinstance("abc", Number)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate("abc", {"type": "number"})


@pytest.mark.parametrize("script", [
    "_sanshe_pow = lambda a, b: 0\nx = 10 ** 10 ** 10",
    "def f(_sanshe_mult):\n    return 1",
    "match 1:\n    case _sanshe_add:\n        pass",
    "match [1]:\n    case [*_sanshe_add]:\n        pass",
    "match {}:\n    case {**_sanshe_add}:\n        pass",
    "match 1:\n    case __builtins__:\n        pass",
])
def test_the_size_guards_cannot_be_replaced_by_a_script(script):
    assert check_expression(script, "exec"), script


@pytest.mark.parametrize("script", [
    "match ballot:\n    case {'choice': 'yes'}:\n        yes = 1\n    case _:\n        yes = 0",
    "match amount:\n    case int(real=r) if r > 0:\n        ok = True",
    "totals = {}\ntotals['yes'] = 1",
])
def test_ordinary_match_and_item_assignment_still_run(env, script):
    assert check_expression(script, "exec") == []
    env.execute(script, {"ballot": {"choice": "yes"}, "amount": 3})


def test_one_builtin_call_cannot_allocate_hundreds_of_megabytes_with_to_bytes(env):
    assert any("attribute 'to_bytes' is not allowed" in p for p in check_expression("(0).to_bytes(3 * 10**8)"))
    with pytest.raises(ScriptRejected):
        env.evaluate("(0).to_bytes(3 * 10**8)", {})
