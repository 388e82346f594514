"""The rule a representatives' meeting applies, and how it is said in words.

The law (Organic Law of Villagers' Committees, art. 26, read with Civil Code art. 1259:
"以上" includes the number itself): the meeting is valid with **at least** two-thirds of its
members present, and a decision needs **more than** half of those present. A community's
bylaws may set other ratios and comparisons; the diagram carries them as parameters of the
tally task (``quorum_ratio``, ``quorum_comparison``, ``pass_ratio``, ``pass_comparison``).
A parameter missing (a diagram deployed before the comparisons existed) means the law.

Every comparison is exact (fractions, no floating point).
"""
import ast
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from typing import Any

from engine.errors import Text, ValidationError


class Comparison(StrEnum):
    """How a count is held against its share: "以上/不少于" or "超过"."""

    AT_LEAST = "at_least"
    MORE_THAN = "more_than"


LAW_QUORUM_RATIO = Fraction(2, 3)
LAW_QUORUM_COMPARISON = Comparison.AT_LEAST
LAW_PASS_RATIO = Fraction(1, 2)
LAW_PASS_COMPARISON = Comparison.MORE_THAN

RATIO_PARAMETERS = ("quorum_ratio", "pass_ratio")
COMPARISON_PARAMETERS = ("quorum_comparison", "pass_comparison")


def ratio(value: Any, name: str = "ratio") -> Fraction:
    """An exact fraction from ``"2/3"``, ``0.5``, ``Fraction(2, 3)`` or ``0.6666666666666666``.

    A share of the members must lie in (0, 1]: zero would make any count enough.
    """
    try:
        if isinstance(value, bool):
            raise TypeError("not a number")
        if isinstance(value, Fraction):
            result = value
        elif isinstance(value, str):
            result = Fraction(value.strip())
        elif isinstance(value, float):
            # The diagram's "2/3" is evaluated as Python, giving 0.666...: read it back as 2/3.
            result = Fraction(value).limit_denominator(1000)
        else:
            result = Fraction(value)
    except (TypeError, ValueError, ZeroDivisionError) as exc:
        raise ValidationError(Text("%(name)s must be a fraction like 2/3.", name=name),
                              errors={name: [str(exc)]}) from exc
    if not 0 < result <= 1:
        raise ValidationError(Text("%(name)s must be above 0 and at most 1.", name=name),
                              errors={name: [str(value)]})
    return result


def comparison(value: Any, name: str = "comparison") -> Comparison:
    """``"at_least"`` or ``"more_than"``; anything else is refused."""
    try:
        return Comparison(value)
    except ValueError as exc:
        message = Text("%(name)s must be at_least or more_than, not %(value)r.", name=name, value=value)
        raise ValidationError(message, errors={name: [message]}) from exc


@dataclass(frozen=True)
class VoteRule:
    """Quorum and majority: each a share and how a count is compared with it."""

    quorum_ratio: Fraction = LAW_QUORUM_RATIO
    quorum_comparison: Comparison = LAW_QUORUM_COMPARISON
    pass_ratio: Fraction = LAW_PASS_RATIO
    pass_comparison: Comparison = LAW_PASS_COMPARISON

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> "VoteRule":
        """The rule a diagram's tally parameters set; a missing one is the law's."""
        law = cls()
        return cls(
            quorum_ratio=ratio(params.get("quorum_ratio", law.quorum_ratio), "quorum_ratio"),
            quorum_comparison=comparison(params.get("quorum_comparison", law.quorum_comparison),
                                         "quorum_comparison"),
            pass_ratio=ratio(params.get("pass_ratio", law.pass_ratio), "pass_ratio"),
            pass_comparison=comparison(params.get("pass_comparison", law.pass_comparison), "pass_comparison"),
        )

    def quorum_met(self, present: int, members: int) -> bool:
        """The meeting is valid: enough of its members are present (never with no members)."""
        return members > 0 and _holds(Fraction(present, members), self.quorum_comparison, self.quorum_ratio)

    def passed(self, yes: int, present: int) -> bool:
        """Enough of those present voted yes (never with nobody present)."""
        return present > 0 and _holds(Fraction(yes, present), self.pass_comparison, self.pass_ratio)

    def as_dict(self) -> dict[str, str]:
        """The rule as recorded with a result (JSON-able)."""
        return {"quorum_ratio": str(self.quorum_ratio), "quorum_comparison": str(self.quorum_comparison),
                "pass_ratio": str(self.pass_ratio), "pass_comparison": str(self.pass_comparison)}

    def words(self) -> dict[str, str]:
        """The rule in one sentence, ``{"zh": ..., "en": ...}``."""
        quorum_zh = _COMPARE_ZH[self.quorum_comparison][0]
        pass_zh = _COMPARE_ZH[self.pass_comparison][0]
        return {
            "zh": (f"会议须有{quorum_zh}{share_zh(self.quorum_ratio)}的组成人员到会方为有效，"
                   f"所作决定须经{pass_zh}到会人员的{share_zh(self.pass_ratio)}同意"),
            "en": (f"The meeting is valid with {_COMPARE_EN[self.quorum_comparison]} "
                   f"{share_en(self.quorum_ratio)} of its members present; a decision needs "
                   f"{_COMPARE_EN[self.pass_comparison]} {share_en(self.pass_ratio)} of those present"),
        }

    def announcement(self, members: int, present: int, yes: int, no: int, abstain: int) -> dict[str, str]:
        """What the chair announces on the spot, ``{"zh": ..., "en": ...}``.

        For example "应到9人，实到6人，到会人数不少于三分之二，会议有效；赞成5票、反对1票、弃权0票，
        赞成票超过到会人数的半数，表决通过".
        """
        valid = self.quorum_met(present, members)
        quorum_zh = _COMPARE_ZH[self.quorum_comparison][0 if valid else 1]
        zh = f"应到{members}人，实到{present}人，到会人数{quorum_zh}{share_zh(self.quorum_ratio)}"
        en = (f"{members} members, {present} present: {'' if valid else 'not '}"
              f"{_COMPARE_EN[self.quorum_comparison]} {share_en(self.quorum_ratio)} of the members")
        if not valid:
            return {"zh": zh + "，会议无效，不能表决", "en": en + "; the meeting is not valid and cannot decide"}
        passed = self.passed(yes, present)
        pass_zh = _COMPARE_ZH[self.pass_comparison][0 if passed else 1]
        zh += (f"，会议有效；赞成{yes}票、反对{no}票、弃权{abstain}票，"
               f"赞成票{pass_zh}到会人数的{share_zh(self.pass_ratio)}，{'表决通过' if passed else '表决未通过'}")
        en += (f"; {yes} yes, {no} no, {abstain} abstaining: the yes votes are {'' if passed else 'not '}"
               f"{_COMPARE_EN[self.pass_comparison]} {share_en(self.pass_ratio)} of those present; "
               f"the application {'passed' if passed else 'did not pass'}")
        return {"zh": zh, "en": en}


def _holds(share: Fraction, how: Comparison, threshold: Fraction) -> bool:
    return share >= threshold if how is Comparison.AT_LEAST else share > threshold


# (met, not met) for each comparison, as a Chinese announcement says them.
_COMPARE_ZH = {Comparison.AT_LEAST: ("不少于", "不足"), Comparison.MORE_THAN: ("超过", "未超过")}
_COMPARE_EN = {Comparison.AT_LEAST: "at least", Comparison.MORE_THAN: "more than"}
_DIGITS_ZH = "零一二三四五六七八九"
_SHARES_EN = {Fraction(1, 2): "half", Fraction(1, 3): "one-third", Fraction(2, 3): "two-thirds",
              Fraction(1, 4): "one-quarter", Fraction(3, 4): "three-quarters", Fraction(1): "all"}


def number_zh(n: int) -> str:
    """A whole number below 10,000 in Chinese numerals (二十一, 一百零五); others in digits."""
    if not 0 <= n < 10000:
        return str(n)
    if n < 10:
        return _DIGITS_ZH[n]
    out, zero = "", False
    for unit, size in (("千", 1000), ("百", 100), ("十", 10), ("", 1)):
        digit, n = divmod(n, size)
        if digit:
            if zero:
                out += "零"
            out += _DIGITS_ZH[digit] + unit
            zero = False
        elif out:
            zero = True
    # 十五, not 一十五, when the number starts at the tens.
    return out[1:] if out.startswith("一十") else out


def share_zh(share: Fraction) -> str:
    """三分之二, 半数, 全体 ... as an announcement says a share of people."""
    if share == Fraction(1, 2):
        return "半数"
    if share == 1:
        return "全体"
    return f"{number_zh(share.denominator)}分之{number_zh(share.numerator)}"


def share_en(share: Fraction) -> str:
    return _SHARES_EN.get(share, f"{share.numerator}/{share.denominator}")


def check_parameter_texts(texts: Mapping[str, str]) -> list[str]:
    """Problems with the tally task's rule parameters as written in a diagram.

    ``texts`` maps parameter names to their expression text. The comparisons must be one of
    the allowed words as a quoted string (``"at_least"``, ``"more_than"``); ratios written
    as numbers or fractions must lie in (0, 1]. A ratio computed from task data is checked
    when the tally runs.
    """
    problems: list[str] = []
    for name in COMPARISON_PARAMETERS:
        if name not in texts:
            continue
        value = _literal(texts[name])
        if value not in {c.value for c in Comparison}:
            allowed = " or ".join(f'"{c.value}"' for c in Comparison)
            problems.append(Text("parameter '%(name)s' must be %(allowed)s (with the quotes), not %(value)s", name=name,
                                 allowed=allowed, value=texts[name]))
    for name in RATIO_PARAMETERS:
        text = (texts.get(name) or "").strip()
        if not text:
            continue
        try:
            ratio(text, name)
        except ValidationError:
            if _looks_numeric(text):
                problems.append(Text("parameter '%(name)s' must be a fraction above 0 and at most 1, like 2/3, not %(value)s",
                                     name=name, value=text))
    return problems


def _literal(text: str) -> Any:
    try:
        return ast.literal_eval((text or "").strip())
    except (ValueError, SyntaxError):
        return None


def _looks_numeric(text: str) -> bool:
    """Made of digits, a slash, a point and a sign only: meant as a number, not an expression."""
    return all(ch.isdigit() or ch in "/.-+ " for ch in text)
