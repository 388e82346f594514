"""Unified social credit codes (统一社会信用代码, GB 32100-2015).

A code has 18 characters: the registration authority (1), the kind of organization (1),
the administrative division (6 digits), the organization code (9) and a check character
(1). Characters come from the 31-character set below (digits and capitals without I, O,
S, V, Z). The check character is chosen so that the weighted sum of all 18 values is a
multiple of 31.
"""
from engine.errors import Text, ValidationError

CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
LENGTH = 18


def check_character(body: str) -> str:
    """The check character for the first 17 characters ``body`` (already valid characters)."""
    total = sum(CHARSET.index(char) * weight for char, weight in zip(body, WEIGHTS, strict=True))
    return CHARSET[(31 - total % 31) % 31]  # 31 - 0 = 31 stands for 0


def normalized(code: str) -> str:
    """The code as it is stored: spaces removed, letters in capitals."""
    return "".join(str(code or "").split()).upper()


def problem(code: str) -> Text | None:
    """Why ``code`` is not a valid unified social credit code, or None when it is."""
    code = normalized(code)
    if not code:
        return Text("Enter the unified social credit code.")
    if len(code) != LENGTH:
        return Text("A unified social credit code has 18 characters; this one has %(n)s.", n=len(code))
    wrong = [char for char in code if char not in CHARSET]
    if wrong:
        return Text("The code may not contain %(chars)s (allowed: digits and capital letters except I, O, S, V, Z).",
                    chars=" ".join(dict.fromkeys(wrong)))
    if not code[2:8].isdigit():
        return Text("Characters 3 to 8 are the administrative division code and must be digits.")
    expected = check_character(code[:17])
    if code[17] != expected:
        return Text("The check character (the 18th) should be %(expected)s, not %(given)s: "
                    "a character of the code is probably mistyped.", expected=expected, given=code[17])
    return None


def validated(code: str, field: str = "credit_code") -> str:
    """The normalized code; ValidationError naming ``field`` with the reason when it is not valid."""
    reason = problem(code)
    if reason is not None:
        raise ValidationError(reason, errors={field: [reason]})
    return normalized(code)


def with_check_character(body: str) -> str:
    """A full code from its first 17 characters (ValidationError when they are not valid)."""
    body = normalized(body)
    if len(body) != LENGTH - 1 or any(char not in CHARSET for char in body):
        raise ValidationError(Text("%(body)r is not 17 characters of a credit code.", body=body))
    return body + check_character(body)
