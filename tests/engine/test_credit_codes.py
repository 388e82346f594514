"""Unified social credit codes: the GB 32100-2015 check character, and clear reasons."""
import pytest
from hypothesis import given, strategies as st

from engine.errors import ValidationError
from engine.method import credit_codes
from engine.method.demo import ORGANIZATIONS

# Codes printed on real business licences and registration certificates.
KNOWN_VALID = ["91350100M000100Y43", "91110000600037341L", "91310000775785552L"]


@pytest.mark.parametrize("code", KNOWN_VALID)
def test_known_codes_are_valid(code):
    assert credit_codes.problem(code) is None
    assert credit_codes.check_character(code[:17]) == code[17]


def test_spaces_and_small_letters_are_forgiven():
    assert credit_codes.validated(" 91350100m000100y43 ") == "91350100M000100Y43"


@pytest.mark.parametrize("code, words", [
    ("91350100M000100Y44", "should be 3, not 4"),        # wrong check character
    ("91350100M000100Y4", "this one has 17"),             # a character missing
    ("91350100M000100Y433", "this one has 19"),
    ("91350100M0001O0Y43", "may not contain O"),          # the letter O for a zero
    ("91350100M00010SY43", "may not contain S"),
    ("913501A0M000100Y43", "administrative division"),    # letters where the division code is
    ("", "Enter the unified social credit code"),
])
def test_corrupted_codes_are_refused_with_the_reason(code, words):
    reason = credit_codes.problem(code)
    assert reason is not None and words in reason
    with pytest.raises(ValidationError) as refused:
        credit_codes.validated(code)
    assert refused.value.errors["credit_code"] == [reason]


def test_a_check_character_of_zero_is_written_as_zero():
    """31 - (sum mod 31) is 31 when the sum is a multiple of 31: the check character is then 0."""
    body = next(b for b in (f"9135010{n:010d}" for n in range(10_000)) if credit_codes.check_character(b) == "0")
    total = sum(credit_codes.CHARSET.index(c) * w for c, w in zip(body, credit_codes.WEIGHTS))
    assert total % 31 == 0 and credit_codes.problem(body + "0") is None


@given(st.text(alphabet=credit_codes.CHARSET, min_size=17, max_size=17), st.integers(0, 16),
       st.sampled_from(credit_codes.CHARSET))
def test_any_single_mistyped_character_is_caught(body, position, replacement):
    code = credit_codes.with_check_character(body)
    assert credit_codes.problem(code) is None or not code[2:8].isdigit()
    mistyped = code[:position] + replacement + code[position + 1:]
    if mistyped != code:
        assert credit_codes.check_character(mistyped[:17]) != mistyped[17]


def test_the_demo_organizations_have_valid_codes():
    codes = [row[5] for row in ORGANIZATIONS if row[5]]
    assert len(codes) == len(set(codes)) >= 5
    assert all(credit_codes.problem(code) is None for code in codes)
